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
// per-process high-water mark: one process per phase gives each its own honest peak. The three phases
// run in turn --rounds times (default 3): on a shared machine the speed drifts over tens of seconds,
// so phases measured side by side make fairer ratios than one long block per phase. Each phase's best
// round is reported, with the range of the per-round ratios.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <ATen/ATen.h>
#include <torch/version.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

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
  int threads = 0, repeats = 3, rounds = 3;
  const auto usage = [] {
    std::cerr << "usage: lrp [--size N (198)] [--threads N (0 = all cores)] [--repeats N per child (3)] [--rounds N (3)]\n";
    return 2;
  };
  if (argc % 2 == 0) return usage();
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--phase") phase = argv[i + 1];
    else if (a == "--size") size = std::stoll(argv[i + 1]);
    else if (a == "--threads") threads = std::stoi(argv[i + 1]);
    else if (a == "--repeats") repeats = std::stoi(argv[i + 1]);
    else if (a == "--rounds") rounds = std::max(1, std::stoi(argv[i + 1]));
    else return usage();
  }
  if (!phase.empty()) {
    std::cout << run_phase(phase, size, threads, repeats).dump() << "\n";
    return 0;
  }

  engine::Runtime rt;
  rt.threads = threads;
  std::printf("bench/lrp: MRInet %lld³, float32, CPU, %d threads, LibTorch %s, %d rounds of the three phases, "
              "best of %d runs per phase and round\n\n",
              static_cast<long long>(size), rt.thread_count(), TORCH_VERSION, rounds, repeats);
  json fwd, lrp, base;
  std::vector<double> speedups, explain_ratios;
  const auto keep_best = [](json& best, const json& round) {
    const double peak = std::max(best.is_null() ? 0.0 : best["peak_rss_mib"].get<double>(), round["peak_rss_mib"].get<double>());
    if (best.is_null() || round["seconds"].get<double>() < best["seconds"].get<double>()) best = round;
    best["peak_rss_mib"] = peak;  // the highest peak of any round
  };
  for (int r = 0; r < rounds; ++r) {
    const json f = run_child(argv[0], "forward", size, threads, repeats);
    const json l = run_child(argv[0], "preset-a", size, threads, repeats);
    const json b = run_child(argv[0], "gradxinput", size, threads, repeats);
    speedups.push_back(b["seconds"].get<double>() / l["seconds"].get<double>());
    explain_ratios.push_back(l["seconds"].get<double>() / f["seconds"].get<double>());
    keep_best(fwd, f);
    keep_best(lrp, l);
    keep_best(base, b);
  }

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
  std::printf("%-46s %8.2f   (target <= 1.5)\n\n", "explanation peak RSS / grad x input peak RSS", memory);

  std::printf("%-22s %-10s %-38s %11s %13s\n", "layer", "kind", "primitive", "forward ms", "relevance ms");
  for (const auto& l : lrp["layers"])
    std::printf("%-22s %-10s %-38s %11.1f %13.1f\n", l["layer"].get<std::string>().c_str(),
                l["kind"].get<std::string>().c_str(), l["primitive"].get<std::string>().c_str(),
                l["forward_ms"].get<double>(), l["relevance_ms"].get<double>());
  return 0;
}
