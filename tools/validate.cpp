// mlens validate: the engine's relevance map against a reference map from another tool.
#include <iomanip>
#include <iostream>
#include <optional>

#include "engine/subject.h"
#include "io/npy.h"
#include "io/paths.h"
#include "io/volume.h"
#include "stats/compare.h"
#include "tools/options.h"

namespace mlens::tools {
namespace {

// Without its axes of length 1: (1, D, H, W, 1) as Keras/iNNvestigate return a map is (D, H, W).
std::vector<int64_t> squeezed(const std::vector<int64_t>& shape) {
  std::vector<int64_t> out;
  for (int64_t d : shape)
    if (d != 1) out.push_back(d);
  return out;
}

// The reference as an array in C order: a .npy, or a NIfTI's volume (one per channel for a 4D file, in
// the channels-last order of the model's input).
io::NpyArray read_reference(const std::string& path) {
  return io::nifti_extension(path).empty() ? io::read_npy(path) : engine::channels_last(io::read_volumes(path));
}

std::vector<double> values_of(const at::Tensor& t) {
  const at::Tensor r = t.to(at::kCPU, at::kDouble).contiguous();
  return {r.data_ptr<double>(), r.data_ptr<double>() + r.numel()};
}

int run(const po::variables_map& vm) {
  const engine::Runtime runtime = runtime_from(vm);
  const lrp::Composite composite = composite_from(vm);
  if (!vm.count("input")) throw UsageError("give --input VOL");
  const std::string input = vm["input"].as<std::string>(), reference = vm["reference"].as<std::string>();
  const double tolerance = vm["tolerance"].as<double>();
  // The map on `r`'s device and precision, with the reference's shape.
  std::vector<int64_t> shape;
  const auto map = [&](const engine::Runtime& r) {
    r.activate();
    if (is_array_input(vm)) {  // a .npy or 4D NIfTI input: compared in its own (Keras) layout
      const ArraySubject a = load_array_subject(vm, r, &composite);
      shape = a.net.keras_input_shape();
      return engine::to_array(lrp::explain(a.net, a.x, composite).relevance, a.array.shape, true).values;
    }
    const LoadedModel loaded = load_model(vm, r, composite);
    const models::Int3 grid = loaded.model.input_shape();
    shape = {grid[0], grid[1], grid[2]};
    // References from other tools are in the model's input grid: compare there.
    return values_of(engine::explain(loaded.model, prepare_subject(vm, loaded).model_input, composite, r, input).relevance);
  };
  const io::NpyArray ref = read_reference(reference);  // a bad file fails before the computation
  const std::vector<double> mine = map(runtime);
  // Its shape must be the model input's up to axes of length 1: (1, D, H, W, 1) as Keras returns a map is (D, H, W).
  if (squeezed(ref.shape) != squeezed(shape))
    throw std::invalid_argument("\"" + reference + "\": reference of shape " + models::shape_text(ref.shape) +
                                " does not match the model input " + models::shape_text(shape));
  // Fast math's own error: the same map in exact float32 (TF32 changes nothing on the CPU).
  std::optional<stats::MapComparison> fast;
  if (runtime.fast_math == engine::FastMath::TF32 && !runtime.device.is_cuda()) {
    fast = stats::compare_maps(mine, mine);
  } else if (runtime.fast_math != engine::FastMath::None) {
    engine::Runtime exact = runtime;
    exact.fast_math = engine::FastMath::None;
    exact.dtype = at::kFloat;
    fast = stats::compare_maps(mine, map(exact));
  }
  stats::MapComparison c;
  try {
    c = stats::compare_maps(mine, ref.values);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument("\"" + reference + "\": " + e.what());
  }
  const bool pass = c.rel_l2 <= tolerance;
  if (vm.count("json")) {
    nlohmann::json j{{"reference", reference},  {"rule", to_json(composite)},
                     {"voxels", c.voxels},      {"max_abs_error", c.max_abs_error},
                     {"relative_l2", c.rel_l2}, {"pearson_r", c.pearson_r},
                     {"sum_mlens", c.sum_test}, {"sum_reference", c.sum_reference},
                     {"tolerance", tolerance},  {"pass", pass}};
    if (fast)
      j["fast_math"] = {{"mode", runtime.dtype_name()}, {"relative_l2_vs_float32", fast->rel_l2},
                        {"max_abs_error_vs_float32", fast->max_abs_error}, {"pearson_r_vs_float32", fast->pearson_r}};
    std::cout << j.dump(2) << "\n";
  } else {
    if (fast)
      std::cout << std::setprecision(6) << "fast math (" << runtime.dtype_name() << ") against exact float32: relative L2 "
                << fast->rel_l2 << ", max abs error " << fast->max_abs_error << ", Pearson r " << fast->pearson_r << "\n";
    std::cout << std::setprecision(6) << "voxels:            " << c.voxels << "\n"
              << "max abs error:     " << c.max_abs_error << "\n"
              << "relative L2:       " << c.rel_l2 << "  (tolerance " << tolerance << ")\n"
              << "Pearson r:         " << c.pearson_r << "\n"
              << "sum of relevance:  mlens " << c.sum_test << ", reference " << c.sum_reference << "\n"
              << (pass ? "PASS" : "FAIL: relative L2 beyond tolerance") << "\n";
  }
  return pass ? kExitOk : kExitBeyondTolerance;
}

}  // namespace

Command validate_command() {
  return {"validate",
          "compare mlens' relevance map with a reference map from another tool",
          "mlens validate (--model MODEL.h5 | --manifest M.mlens.json) --input VOL.nii.gz --reference REF.npy|REF.nii.gz "
          "[--rule ...] [--tolerance T]",
          "Computes the relevance map as `explain` does and compares it voxel by voxel with a map made by another tool "
          "(iNNvestigate, Zennit) for the same model, input and rule: max absolute error, relative L2 error "
          "||mlens - ref|| / ||ref||, Pearson r and both sums. A .npy reference (float32/float64, C order, the model's "
          "input orientation; singleton batch/channel axes allowed) is read without Python. With a .npy --input (any "
          "model shape, e.g. a 2D or multi-channel model) the reference is in that array's shape. Every method and "
          "--neuron of `explain` can be validated. Exits 3 when the relative L2 "
          "error exceeds --tolerance. Use --dtype float64 for the tightest comparison. With --fast-math tf32|bf16 the "
          "map is also computed in exact float32 and the fast map's error against it is printed: what the speed costs.",
          "mlens validate --model mrinet.h5 --input vol.nii.gz --reference innvestigate_preset_a.npy --dtype float64",
          [](po::options_description& o, po::positional_options_description&) {
            add_model_options(o);
            add_subject_options(o);
            o.add_options()(
                "reference,r", po::value<std::string>()->required()->value_name("REF"), "reference map (.npy, .nii, .nii.gz; a 4D NIfTI of one map per channel for a multi-channel model)")(
                "tolerance", po::value<double>()->default_value(1e-4)->value_name("T"), "largest accepted relative L2 error")(
                "json", "print JSON");
            add_rule_options(o);
            add_runtime_options(o);
          },
          run};
}

}  // namespace mlens::tools
