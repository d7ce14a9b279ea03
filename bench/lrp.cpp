// bench/lrp: a full-size MRInet (198³ input, seeded random weights) on the CPU or a GPU.
//
// Measures, in one run and on the same model and input:
//   forward       the plain forward pass
//   preset-a      mlens' LRP explanation (its own forward pass included)
//   grad×input    the baseline: gradient × input with LibTorch autograd
// and prints times, peak memory (resident, and on a GPU the allocator's peak), the ratios the
// core-engine issue targets, achieved GFLOP/s, and each layer's forward/relevance time with the
// primitive that ran it. `--batch N` explains N phantoms per pass (explanations per second = N / time);
// `--json FILE` writes the summary for scripts/gpu-check.
//
// Each phase runs in a child process (this program re-executed with --phase), because peak RSS is a
// per-process high-water mark: one process per phase gives each its own honest peak. The three phases
// run in turn --rounds times (default 3): on a shared machine the speed drifts over tens of seconds,
// so phases measured side by side make fairer ratios than one long block per phase. Each phase's best
// round is reported, with the range of the per-round ratios. Children report in "key<TAB>value" lines.
//
// Needs LibTorch only (the core-only build has it): no files are read or written but --json.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <ATen/ATen.h>
#include <torch/cuda.h>
#include <torch/version.h>
#ifdef MLENS_CUDA_LIBTORCH
#include <c10/cuda/CUDACachingAllocator.h>
#endif

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "engine/cpu_allocator.h"
#include "engine/phantom.h"
#include "engine/runtime.h"
#include "lrp/explain.h"
#include "lrp/gradient.h"
#include "models/mrinet.h"

using namespace mlens;

namespace {

double peak_rss_mib() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;  // Linux reports KiB
}

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

struct Config {
  int64_t size = 198;
  int threads = 0, repeats = 3, rounds = 3, batch = 1;
  int steps = 0;  // > 0: also the gradient methods, integrated gradients with this many steps (--methods STEPS)
  std::string device = "cpu";
  std::string fast_math = "none";  // none, tf32 or bf16 (engine::FastMath)
};

// Waits for the device's queued work, so that a timer measures it.
void synchronize(const at::Device& device) {
  if (device.is_cuda()) torch::cuda::synchronize(device.index());
}

// The shortest of `repeats` timed runs after one warm-up run (oneDNN builds its kernels on first use).
// The minimum, because on a shared machine noise only ever adds time.
template <typename F>
double best_of(int repeats, const at::Device& device, F&& f) {
  f();
  synchronize(device);
  double best = 1e300;
  for (int i = 0; i < repeats; ++i) {
    const auto t = std::chrono::steady_clock::now();
    f();
    synchronize(device);
    best = std::min(best, seconds_since(t));
  }
  return best;
}

// FLOPs of one forward pass of one sample: 2·(multiply-adds) of every convolution and dense layer.
double forward_flops(const models::Sequential& net) {
  double flops = 0;
  const auto shapes = net.layer_shapes();
  for (size_t i = 0; i < net.layers.size(); ++i) {
    const auto& l = net.layers[i];
    if (!l.is_linear()) continue;
    double out = 1;
    for (size_t a = 1; a < shapes[i].size(); ++a) out *= static_cast<double>(shapes[i][a]);
    flops += 2.0 * out * static_cast<double>(l.weight.numel() / l.weight.size(0));
  }
  return flops;
}

double peak_gpu_mib(const at::Device& device) {
#ifdef MLENS_CUDA_LIBTORCH
  if (device.is_cuda())
    return static_cast<double>(c10::cuda::CUDACachingAllocator::getDeviceStats(device.index()).allocated_bytes[0].peak) /
           (1024.0 * 1024.0);  // [0]: the aggregate over pool kinds
#endif
  return 0;
}

void reset_peak_gpu(const at::Device& device) {
#ifdef MLENS_CUDA_LIBTORCH
  if (device.is_cuda()) c10::cuda::CUDACachingAllocator::resetPeakStats(device.index());
#endif
}

// One phase's measurements: numbers by name, and the explanation's per-layer account.
struct Phase {
  std::map<std::string, double> values;
  std::vector<std::vector<std::string>> layers;  // layer, kind, primitive, forward ms, relevance ms
  double operator[](const std::string& key) const {
    const auto it = values.find(key);
    return it == values.end() ? 0.0 : it->second;
  }
};

void run_phase(const std::string& phase, const Config& cfg) {
  // cuda means cuda:0; TF32 is off unless asked for (LibTorch allows it in cuDNN by default).
  const engine::Runtime runtime = engine::Runtime::parse(cfg.device, "float32", cfg.threads, cfg.fast_math);
  runtime.activate();
  const at::Device device = runtime.device;
  const models::Sequential net = models::mrinet({cfg.size, cfg.size, cfg.size}, 7).net.to(device, runtime.dtype);
  const at::Tensor x = engine::phantom_batch({cfg.size, cfg.size, cfg.size}, 1, cfg.batch).to(device, runtime.dtype);
  synchronize(device);
  const double baseline_rss = peak_rss_mib();
  const double baseline_gpu = peak_gpu_mib(device);
  reset_peak_gpu(device);
  std::map<std::string, double> out;
  std::vector<std::string> layers;

  if (phase == "forward") {
    out["seconds"] = best_of(cfg.repeats, device, [&] { out["prediction"] = net.forward(x)[0].item<double>(); });
  } else if (phase == "preset-a") {
    const lrp::Composite c = lrp::parse_composite("preset-a");
    lrp::Explanation e;
    out["seconds"] = best_of(cfg.repeats, device, [&] {
      e = lrp::Explanation{};  // free the previous run's map before the next one
      e = lrp::explain(net, x, c);
    });
    out["prediction"] = e.prediction[0].item<double>();
    out["relevance_sum"] = e.relevance[0].sum().item<double>();
    out["estimate_mib"] = static_cast<double>(cfg.batch) *
                          static_cast<double>(lrp::explanation_bytes(net, c, x.options())) / (1024.0 * 1024.0);
    if (runtime.fast_math != engine::FastMath::None) {  // what the speed costs: the map against exact float32
      engine::Runtime exact = runtime;
      exact.fast_math = engine::FastMath::None;
      exact.activate();
      // A float32 model and input of their own: the fast ones' parameters and voxels are already rounded.
      const models::Sequential net32 = models::mrinet({cfg.size, cfg.size, cfg.size}, 7).net.to(device, at::kFloat);
      const at::Tensor x32 = engine::phantom_batch({cfg.size, cfg.size, cfg.size}, 1, cfg.batch).to(device);
      const at::Tensor fast = e.relevance.to(at::kDouble), ref = lrp::explain(net32, x32, c).relevance.to(at::kDouble);
      out["fast_math_relative_l2"] = (fast - ref).norm().item<double>() / ref.norm().item<double>();
      runtime.activate();
    }
    for (const auto& a : e.accounts.at(0)) {
      char row[512];
      std::snprintf(row, sizeof row, "layer\t%s\t%s\t%s\t%.3f\t%.3f", a.layer.c_str(), a.kind.c_str(), a.primitive.c_str(),
                    1e3 * a.forward_seconds, 1e3 * a.backward_seconds);
      layers.push_back(row);
    }
  } else if (phase == "gradxinput") {
    const auto once = [&] {
      at::Tensor input = x.clone().requires_grad_(true);
      at::Tensor h = input;
      for (const auto& l : net.layers) h = models::forward(l, h);
      h.sum().backward();
      return (input.grad() * input).detach();
    };
    at::Tensor gxi;
    out["seconds"] = best_of(cfg.repeats, device, [&] {
      gxi = at::Tensor();
      gxi = once();
    });
    out["relevance_sum"] = gxi[0].sum().item<double>();
  } else if (phase == "gradient" || phase == "integrated-gradients") {
    lrp::Composite c = lrp::parse_composite(phase == "gradient" ? "gradient" : "integrated_gradients");
    c.gradient.steps = cfg.steps;
    lrp::Explanation e;
    out["seconds"] = best_of(phase == "gradient" ? cfg.repeats : 1, device, [&] {
      e = lrp::Explanation{};
      e = lrp::explain(net, x, c);
    });
    out["relevance_sum"] = e.relevance[0].sum().item<double>();
  } else if (phase == "autograd-ig") {
    // The same points (x·k/steps, reference 0) and points per pass through autograd.
    const int per_pass = lrp::GradientOptions{}.points_per_pass;
    at::Tensor sum;
    out["seconds"] = best_of(1, device, [&] {
      sum = at::zeros_like(x);
      for (int64_t q = 0; q < x.size(0); ++q)
        for (int start = 0; start < cfg.steps; start += per_pass) {
          std::vector<at::Tensor> points;
          for (int k = start; k < std::min(cfg.steps, start + per_pass); ++k) points.push_back(x[q] * (static_cast<double>(k) / cfg.steps));
          at::Tensor input = at::stack(points).requires_grad_(true);
          at::Tensor h = input;
          for (const auto& l : net.layers) h = models::forward(l, h);
          h.sum().backward();
          sum[q] += input.grad().sum(0);
        }
      sum = (sum / cfg.steps * x).detach();
    });
    out["relevance_sum"] = sum[0].sum().item<double>();
  } else {
    throw std::invalid_argument("unknown phase " + phase);
  }
  out["peak_rss_mib"] = peak_rss_mib();
  out["peak_rss_above_model_mib"] = peak_rss_mib() - baseline_rss;
  out["peak_gpu_mib"] = peak_gpu_mib(device);
  out["model_gpu_mib"] = baseline_gpu;
  out["flops"] = forward_flops(net);
  const engine::CpuAllocatorStats a = engine::cpu_allocator_stats();
  out["fresh_blocks"] = static_cast<double>(a.fresh_blocks);
  out["reused_blocks"] = static_cast<double>(a.reused_blocks);
  for (const auto& [k, v] : out) std::printf("%s\t%.17g\n", k.c_str(), v);
  for (const auto& l : layers) std::printf("%s\n", l.c_str());
}

Phase run_child(const std::string& self, const std::string& phase, const Config& cfg) {
  const std::string cmd = self + " --phase " + phase + " --size " + std::to_string(cfg.size) + " --threads " +
                          std::to_string(cfg.threads) + " --repeats " + std::to_string(cfg.repeats) + " --batch " +
                          std::to_string(cfg.batch) + " --device " + cfg.device + " --methods " + std::to_string(cfg.steps) +
                          " --fast-math " + cfg.fast_math;
  FILE* pipe = popen(cmd.c_str(), "r");
  if (!pipe) throw std::runtime_error("cannot run " + cmd);
  std::string text;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, pipe)) text.append(buf, n);
  if (pclose(pipe) != 0) throw std::runtime_error("phase " + phase + " failed:\n" + text);
  Phase p;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    std::vector<std::string> f;
    std::istringstream fields(line);
    for (std::string x; std::getline(fields, x, '\t');) f.push_back(x);
    if (f.size() == 6 && f[0] == "layer") p.layers.push_back({f.begin() + 1, f.end()});
    else if (f.size() == 2) p.values[f[0]] = std::stod(f[1]);
  }
  return p;
}

// Writes the model, the first phantom and mlens' preset-A map of it to `dir` for bench/peers.py:
// index.txt (one line per layer: its kind, sizes and TensorFlow padding), weights.f32 (each layer's
// weight then bias, channels-first as PyTorch's Conv3d and Linear hold them), input.f32 and
// relevance.f32 ([1, 1, D, H, W]); raw little-endian float32; and relevance_<composite>.f64, Zennit's
// composites computed by mlens in float64.
void export_for_peers(const std::string& dir, const Config& cfg) {
  engine::Runtime runtime;
  runtime.threads = cfg.threads;
  runtime.activate();
  const models::Sequential net = models::mrinet({cfg.size, cfg.size, cfg.size}, 7).net.to(at::kCPU, at::kFloat);
  const at::Tensor x = engine::phantom_batch({cfg.size, cfg.size, cfg.size}, 1, 1);
  const at::Tensor relevance = lrp::explain(net, x, lrp::parse_composite("preset-a")).relevance.contiguous();
  const auto write = [&](const std::string& name, const std::vector<at::Tensor>& tensors) {
    std::ofstream out(dir + "/" + name, std::ios::binary);
    for (const at::Tensor& t : tensors) {
      const at::Tensor c = t.to(at::kFloat).contiguous();
      out.write(static_cast<const char*>(c.data_ptr()), static_cast<std::streamsize>(c.numel() * sizeof(float)));
    }
    if (!out) throw std::runtime_error("cannot write " + dir + "/" + name);
  };
  std::ofstream index(dir + "/index.txt");
  index << "input " << net.input_channels << " " << cfg.size << " " << cfg.size << " " << cfg.size << "\n";
  std::vector<at::Tensor> weights;
  const auto shapes = net.layer_shapes();
  for (size_t i = 0; i < net.layers.size(); ++i) {
    const models::Layer& l = net.layers[i];
    const std::vector<int64_t>& in = i == 0 ? std::vector<int64_t>{1, net.input_channels, cfg.size, cfg.size, cfg.size} : shapes[i - 1];
    const auto pads = [&](const models::Int3& kernel, const models::Int3& stride) {
      const models::Pads p = models::window_pads(l.padding, {in[2], in[3], in[4]}, kernel, stride);
      std::ostringstream t;
      for (int a = 0; a < 3; ++a) t << " " << p.before[a];
      for (int a = 0; a < 3; ++a) t << " " << p.after[a];
      return t.str();
    };
    switch (l.kind) {
      case models::LayerKind::Conv3d: {
        const models::Int3 k{l.weight.size(2), l.weight.size(3), l.weight.size(4)};
        index << "conv " << l.weight.size(0) << " " << l.weight.size(1) << " " << k[0] << " " << k[1] << " " << k[2]
              << pads(k, {1, 1, 1}) << "\n";
        weights.insert(weights.end(), {l.weight, l.bias});
        break;
      }
      case models::LayerKind::Dense:
        index << "dense " << l.weight.size(0) << " " << l.weight.size(1) << "\n";
        weights.insert(weights.end(), {l.weight, l.bias});
        break;
      case models::LayerKind::MaxPool3d:
      case models::LayerKind::AvgPool3d:
        index << (l.kind == models::LayerKind::MaxPool3d ? "maxpool " : "avgpool ") << l.kernel[0] << " " << l.kernel[1] << " "
              << l.kernel[2] << " " << l.stride[0] << " " << l.stride[1] << " " << l.stride[2] << pads(l.kernel, l.stride) << "\n";
        break;
      case models::LayerKind::ReLU: index << "relu\n"; break;
      case models::LayerKind::Flatten: index << "flatten\n"; break;
      case models::LayerKind::Dropout: index << "dropout\n"; break;
      default: throw std::invalid_argument("export: MRInet has no " + std::string(models::to_string(l.kind)) + " layer");
    }
  }
  write("weights.f32", weights);
  write("input.f32", {x});
  write("relevance.f32", {relevance});
  // Zennit's composites in mlens, in float64 (z-box bounds 0 and 1, the phantom's range), for
  // bench/peers.py --composites.
  const models::Sequential net64 = net.to(at::kCPU, at::kDouble);
  for (const char* name : {"epsilon-plus", "epsilon-plus-flat", "epsilon-alpha2-beta1", "epsilon-gamma-box"}) {
    lrp::RuleOverrides bounds;
    bounds.low = 0;
    bounds.high = 1;
    const at::Tensor map = lrp::explain(net64, x.to(at::kDouble), lrp::with_overrides(lrp::parse_composite(name), bounds)).relevance;
    std::ofstream out(dir + "/relevance_" + name + ".f64", std::ios::binary);
    const at::Tensor c = map.contiguous();
    out.write(static_cast<const char*>(c.data_ptr()), static_cast<std::streamsize>(c.numel() * sizeof(double)));
    if (!out) throw std::runtime_error("cannot write " + dir + "/relevance_" + name + ".f64");
  }
  std::printf("bench/lrp: model, phantom and preset-a map for the peers in %s (prediction %.6f)\n", dir.c_str(),
              net.forward(x).item<double>());
}

}  // namespace

int main(int argc, char** argv) {
  std::string phase, json_path, export_dir;
  Config cfg;
  const auto usage = [] {
    std::cerr << "usage: lrp [--size N (198)] [--threads N (0 = all cores)] [--device cpu|cuda[:N] (cpu)] [--batch N (1)]\n"
                 "           [--repeats N per child (3)] [--rounds N (3)] [--fast-math none|tf32|bf16] [--tf32 on] [--json FILE]\n"
                 "           [--methods STEPS]   (also gradient and integrated gradients with STEPS steps, and autograd's)\n"
                 "       lrp --export DIR [--size N]   (the model, a phantom and its map for bench/peers.py)\n";
    return 2;
  };
  if (argc % 2 == 0) return usage();
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--phase") phase = argv[i + 1];
    else if (a == "--size") cfg.size = std::stoll(argv[i + 1]);
    else if (a == "--threads") cfg.threads = std::stoi(argv[i + 1]);
    else if (a == "--repeats") cfg.repeats = std::stoi(argv[i + 1]);
    else if (a == "--rounds") cfg.rounds = std::max(1, std::stoi(argv[i + 1]));
    else if (a == "--batch") cfg.batch = std::max(1, std::stoi(argv[i + 1]));
    else if (a == "--device") cfg.device = argv[i + 1];
    else if (a == "--tf32" && std::string(argv[i + 1]) == "on") cfg.fast_math = "tf32";
    else if (a == "--tf32") continue;  // off: the default
    else if (a == "--fast-math") cfg.fast_math = argv[i + 1];
    else if (a == "--json") json_path = argv[i + 1];
    else if (a == "--export") export_dir = argv[i + 1];
    else if (a == "--methods") cfg.steps = std::max(0, std::stoi(argv[i + 1]));
    else return usage();
  }
  engine::Runtime rt;
  try {
    rt = engine::Runtime::parse(cfg.device, "float32", cfg.threads, cfg.fast_math);
  } catch (const std::exception& e) {
    std::cerr << "bench/lrp: " << e.what() << "\n";
    return 1;
  }
  if (!phase.empty()) {
    run_phase(phase, cfg);
    return 0;
  }
  if (!export_dir.empty()) {
    export_for_peers(export_dir, cfg);
    return 0;
  }

  const bool gpu = rt.device.is_cuda();
  std::printf("bench/lrp: MRInet %lld³, %s, %s%s, batch %d, %d CPU threads, LibTorch %s, %d rounds of the three "
              "phases, best of %d runs per phase and round\n\n",
              static_cast<long long>(cfg.size), cfg.fast_math == "bf16" ? "bfloat16" : "float32", cfg.device.c_str(),
              gpu ? (cfg.fast_math == "tf32" ? " (TF32 on)" : " (TF32 off)") : "",
              cfg.batch, rt.thread_count(), TORCH_VERSION, cfg.rounds, cfg.repeats);
  Phase fwd, lrp, base, grad, ig, autograd_ig;
  std::vector<double> speedups, explain_ratios;
  const auto keep_best = [](Phase& best, const Phase& round) {
    const double peak = std::max(best["peak_rss_mib"], round["peak_rss_mib"]);
    const double gpu_peak = std::max(best["peak_gpu_mib"], round["peak_gpu_mib"]);
    if (best.values.empty() || round["seconds"] < best["seconds"]) best = round;
    best.values["peak_rss_mib"] = peak;  // the highest peak of any round
    best.values["peak_gpu_mib"] = gpu_peak;
  };
  for (int r = 0; r < cfg.rounds; ++r) {
    const Phase f = run_child(argv[0], "forward", cfg);
    const Phase l = run_child(argv[0], "preset-a", cfg);
    const Phase b = run_child(argv[0], "gradxinput", cfg);
    speedups.push_back(b["seconds"] / l["seconds"]);
    explain_ratios.push_back(l["seconds"] / f["seconds"]);
    keep_best(fwd, f);
    keep_best(lrp, l);
    keep_best(base, b);
    if (cfg.steps > 0) {
      keep_best(grad, run_child(argv[0], "gradient", cfg));
      keep_best(ig, run_child(argv[0], "integrated-gradients", cfg));
      keep_best(autograd_ig, run_child(argv[0], "autograd-ig", cfg));
    }
  }

  const double flops = fwd["flops"] * cfg.batch;
  const char* memory_column = gpu ? "peak GPU MiB" : "peak RSS MiB";
  const char* memory_key = gpu ? "peak_gpu_mib" : "peak_rss_mib";
  std::printf("%-36s %10s %12s %16s %12s\n", "phase", "seconds", memory_column, "GFLOP/s", "samples/s");
  // preset-a on post-ReLU inputs: forward + activator conv + transposed conv per layer = 3x forward FLOPs.
  const std::pair<const char*, const Phase*> rows[] = {
      {"forward", &fwd}, {"preset-a explanation (incl. forward)", &lrp}, {"grad x input (autograd baseline)", &base}};
  for (const auto& [name, p] : rows) {
    const double work = p == &fwd ? flops : 3 * flops;
    std::printf("%-36s %10.3f %12.0f %16.1f %12.2f\n", name, (*p)["seconds"], (*p)[memory_key], work / (*p)["seconds"] / 1e9,
                cfg.batch / (*p)["seconds"]);
  }
  if (cfg.steps > 0) {
    const std::string ig_name = "integrated gradients (" + std::to_string(cfg.steps) + " steps)";
    const std::pair<std::string, const Phase*> methods[] = {
        {"gradient (mlens)", &grad}, {ig_name, &ig}, {ig_name.substr(0, 20) + " (autograd)", &autograd_ig}};
    for (const auto& [name, p] : methods)
      std::printf("%-36s %10.3f %12.0f %16s %12.2f\n", name.c_str(), (*p)["seconds"], (*p)[memory_key], "", cfg.batch / (*p)["seconds"]);
  }
  std::printf("\nforward FLOPs: %.1f GFLOP per sample; prediction %.6f (forward) vs %.6f (preset-a)\n\n", fwd["flops"] / 1e9,
              fwd["prediction"], lrp["prediction"]);

  const double explain_vs_forward = lrp["seconds"] / fwd["seconds"];
  const double speedup = base["seconds"] / lrp["seconds"];
  const double memory = lrp[memory_key] / base[memory_key];
  const auto range = [](const std::vector<double>& v) {
    const auto [lo, hi] = std::minmax_element(v.begin(), v.end());
    char text[64];
    std::snprintf(text, sizeof text, "rounds %.2f-%.2f", *lo, *hi);
    return std::string(text);
  };
  std::printf("%-46s %8.2f   (target <= 3.5; %s)\n", "explanation time / forward time", explain_vs_forward,
              range(explain_ratios).c_str());
  std::printf("%-46s %8.2f   (target >= 3;   %s)\n", "grad x input time / explanation time", speedup,
              range(speedups).c_str());
  std::printf("%-46s %8.2f   (target <= 1.5)\n\n", gpu ? "explanation peak GPU / grad x input peak GPU"
                                                       : "explanation peak RSS / grad x input peak RSS", memory);
  if (cfg.steps > 0) {
    std::printf("%-46s %8.2f   (target <= %d: the steps go through the network batched)\n",
                "integrated gradients time / gradient time", ig["seconds"] / grad["seconds"], cfg.steps);
    std::printf("%-46s %8.2f\n\n", "autograd integrated gradients / mlens'", autograd_ig["seconds"] / ig["seconds"]);
  }

  // What the cohorts' --batch check assumes an explanation needs, against what this one took.
  const double measured = gpu ? lrp["peak_gpu_mib"] - lrp["model_gpu_mib"] : lrp["peak_rss_above_model_mib"];
  std::printf("%-46s %8.0f MiB (measured %.0f MiB above the model: x%.2f)\n\n", "explanation memory estimate (--batch check)",
              lrp["estimate_mib"], measured, lrp["estimate_mib"] / std::max(measured, 1.0));

  std::printf("%-22s %-10s %-38s %11s %13s\n", "layer", "kind", "primitive", "forward ms", "relevance ms");
  for (const auto& l : lrp.layers)
    std::printf("%-22s %-10s %-38s %11s %13s\n", l[0].c_str(), l[1].c_str(), l[2].c_str(), l[3].c_str(), l[4].c_str());

  if (cfg.fast_math != "none")
    std::printf("\nfast math (%s): the preset-A map against exact float32, relative L2 %.3g\n", cfg.fast_math.c_str(),
                lrp["fast_math_relative_l2"]);

  if (!json_path.empty()) {
    // Flat keys, so that scripts/gpu-check can read them without a JSON library.
    std::ofstream j(json_path);
    j << "{\"size\": " << cfg.size << ", \"device\": \"" << cfg.device << "\", \"batch\": " << cfg.batch
      << ", \"threads\": " << rt.thread_count() << ", \"tf32\": " << (cfg.fast_math == "tf32" ? "true" : "false") << ", \"fast_math\": \"" << cfg.fast_math
      << "\", \"fast_math_relative_l2\": " << lrp["fast_math_relative_l2"] << ", \"libtorch\": \""
      << TORCH_VERSION << "\"";
    for (const auto& [name, p] : rows) {
      const std::string key = p == &fwd ? "forward" : p == &lrp ? "preset_a" : "gradxinput";
      j << ", \"" << key << "_seconds\": " << (*p)["seconds"] << ", \"" << key << "_per_second\": " << cfg.batch / (*p)["seconds"]
        << ", \"" << key << "_peak_rss_mib\": " << (*p)["peak_rss_mib"] << ", \"" << key << "_peak_gpu_mib\": " << (*p)["peak_gpu_mib"];
    }
    if (cfg.steps > 0)
      j << ", \"gradient_seconds\": " << grad["seconds"] << ", \"integrated_gradients_seconds\": " << ig["seconds"]
        << ", \"integrated_gradients_steps\": " << cfg.steps << ", \"autograd_integrated_gradients_seconds\": " << autograd_ig["seconds"];
    j << ", \"preset_a_estimate_mib\": " << lrp["estimate_mib"] << "}\n";
  }
  return 0;
}
