// bench/lrp: a full-size MRInet (198³ input, seeded random weights) on the CPU.
//
// Measures, in one run and on the same model and input:
//   forward       the plain forward pass
//   preset-a      mlens' LRP explanation (its own forward pass included)
//   grad×input    the baseline: gradient × input with LibTorch autograd
// and prints times, peak resident memory, the ratios the core-engine issue targets, achieved GFLOP/s,
// and each layer's forward/relevance time with the primitive that ran it.
//
// Each phase runs in a child process (this program re-executed with --phase), because peak RSS is a
// per-process high-water mark: one process per phase gives each its own honest peak.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <ATen/ATen.h>
#include <torch/version.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>

#include <nlohmann/json.hpp>

#include "engine/cpu_allocator.h"
#include "engine/phantom.h"
#include "engine/runtime.h"
#include "engine/subject.h"
#include "lrp/explain.h"
#include "models/mrinet.h"

using namespace mlens;
using nlohmann::json;

namespace {

double peak_rss_mib() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;  // Linux reports KiB
}

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

// The shortest of `repeats` timed runs after one warm-up run (oneDNN builds its kernels on first use).
// The minimum, because on a shared machine noise only ever adds time.
template <typename F>
double best_of(int repeats, F&& f) {
  f();
  double best = 1e300;
  for (int i = 0; i < repeats; ++i) {
    const auto t = std::chrono::steady_clock::now();
    f();
    best = std::min(best, seconds_since(t));
  }
  return best;
}

// FLOPs of one forward pass: 2·(multiply-adds) of every convolution and dense layer.
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

json run_phase(const std::string& phase, int64_t size, int threads, int repeats) {
  engine::Runtime runtime;
  runtime.threads = threads;
  runtime.activate();
  const models::Sequential net = models::mrinet({size, size, size}, 7).net.to(at::kCPU, at::kFloat);
  const io::Volume volume = engine::phantom({size, size, size}, 1);
  const at::Tensor x = engine::to_input(volume, net.input_shape, runtime, "phantom");
  const double baseline_rss = peak_rss_mib();
  json result{{"phase", phase}};

  if (phase == "forward") {
    result["seconds"] = best_of(repeats, [&] { result["prediction"] = net.forward(x).item<double>(); });
  } else if (phase == "preset-a") {
    const lrp::Composite c = lrp::parse_composite("preset-a");
    lrp::Explanation e;
    result["seconds"] = best_of(repeats, [&] {
      e = lrp::Explanation{};  // free the previous run's map before the next one
      e = lrp::explain(net, x, c);
    });
    result["prediction"] = e.prediction.item<double>();
    result["relevance_sum"] = e.relevance.sum().item<double>();
    json layers = json::array();
    for (const auto& a : e.account)
      layers.push_back({{"layer", a.layer}, {"kind", a.kind}, {"primitive", a.primitive},
                        {"forward_ms", 1e3 * a.forward_seconds}, {"relevance_ms", 1e3 * a.backward_seconds}});
    result["layers"] = layers;
  } else if (phase == "gradxinput") {
    const auto once = [&] {
      at::Tensor input = x.clone().requires_grad_(true);
      at::Tensor h = input;
      for (const auto& l : net.layers) h = models::forward(l, h);
      h.sum().backward();
      return (input.grad() * input).detach();
    };
    at::Tensor gxi;
    result["seconds"] = best_of(repeats, [&] {
      gxi = at::Tensor();
      gxi = once();
    });
    result["relevance_sum"] = gxi.sum().item<double>();
  }
  result["peak_rss_mib"] = peak_rss_mib();
  result["peak_rss_above_model_mib"] = peak_rss_mib() - baseline_rss;
  result["flops"] = forward_flops(net);
  const engine::CpuAllocatorStats a = engine::cpu_allocator_stats();
  result["fresh_blocks"] = a.fresh_blocks;
  result["reused_blocks"] = a.reused_blocks;
  return result;
}

json run_child(const std::string& self, const std::string& phase, int64_t size, int threads, int repeats) {
  const std::string cmd = self + " --phase " + phase + " --size " + std::to_string(size) + " --threads " +
                          std::to_string(threads) + " --repeats " + std::to_string(repeats);
  FILE* pipe = popen(cmd.c_str(), "r");
  if (!pipe) throw std::runtime_error("cannot run " + cmd);
  std::string out;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, pipe)) out.append(buf, n);
  if (pclose(pipe) != 0) throw std::runtime_error("phase " + phase + " failed:\n" + out);
  return json::parse(out);
}

}  // namespace

int main(int argc, char** argv) {
  std::string phase;
  int64_t size = 198;
  int threads = 0, repeats = 3;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--phase") phase = argv[i + 1];
    else if (a == "--size") size = std::stoll(argv[i + 1]);
    else if (a == "--threads") threads = std::stoi(argv[i + 1]);
    else if (a == "--repeats") repeats = std::stoi(argv[i + 1]);
    else {
      std::cerr << "usage: lrp [--size N (198)] [--threads N (0 = all cores)] [--repeats N (3)]\n";
      return 2;
    }
  }
  if (!phase.empty()) {
    std::cout << run_phase(phase, size, threads, repeats).dump() << "\n";
    return 0;
  }

  engine::Runtime rt;
  rt.threads = threads;
  std::printf("bench/lrp: MRInet %lld³, float32, CPU, %d threads, LibTorch %s, best of %d runs per phase\n\n",
              static_cast<long long>(size), rt.thread_count(), TORCH_VERSION, repeats);
  const json fwd = run_child(argv[0], "forward", size, threads, repeats);
  const json lrp = run_child(argv[0], "preset-a", size, threads, repeats);
  const json base = run_child(argv[0], "gradxinput", size, threads, repeats);

  const double flops = fwd["flops"];
  std::printf("%-34s %10s %12s %16s\n", "phase", "seconds", "peak RSS MiB", "GFLOP/s");
  std::printf("%-34s %10.3f %12.0f %16.1f\n", "forward", fwd["seconds"].get<double>(), fwd["peak_rss_mib"].get<double>(),
              flops / fwd["seconds"].get<double>() / 1e9);
  // preset-a on post-ReLU inputs: forward + activator conv + transposed conv per layer = 3x forward FLOPs.
  std::printf("%-34s %10.3f %12.0f %16.1f\n", "preset-a explanation (incl. forward)", lrp["seconds"].get<double>(),
              lrp["peak_rss_mib"].get<double>(), 3 * flops / lrp["seconds"].get<double>() / 1e9);
  std::printf("%-34s %10.3f %12.0f %16.1f\n", "grad x input (autograd baseline)", base["seconds"].get<double>(),
              base["peak_rss_mib"].get<double>(), 3 * flops / base["seconds"].get<double>() / 1e9);
  std::printf("\nforward FLOPs: %.1f GFLOP; prediction %.6f (forward) vs %.6f (preset-a)\n\n", flops / 1e9,
              fwd["prediction"].get<double>(), lrp["prediction"].get<double>());

  const double explain_vs_forward = lrp["seconds"].get<double>() / fwd["seconds"].get<double>();
  const double speedup = base["seconds"].get<double>() / lrp["seconds"].get<double>();
  const double memory = lrp["peak_rss_mib"].get<double>() / base["peak_rss_mib"].get<double>();
  std::printf("%-46s %8.2f   (target <= 3.5)\n", "explanation time / forward time", explain_vs_forward);
  std::printf("%-46s %8.2f   (target >= 3)\n", "grad x input time / explanation time", speedup);
  std::printf("%-46s %8.2f   (target <= 1.5)\n\n", "explanation peak RSS / grad x input peak RSS", memory);

  std::printf("%-22s %-10s %-38s %11s %13s\n", "layer", "kind", "primitive", "forward ms", "relevance ms");
  for (const auto& l : lrp["layers"])
    std::printf("%-22s %-10s %-38s %11.1f %13.1f\n", l["layer"].get<std::string>().c_str(),
                l["kind"].get<std::string>().c_str(), l["primitive"].get<std::string>().c_str(),
                l["forward_ms"].get<double>(), l["relevance_ms"].get<double>());
  return 0;
}
