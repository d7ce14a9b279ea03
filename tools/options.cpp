#include "tools/options.h"

#include <algorithm>
#include <filesystem>

#include <ATen/Parallel.h>
#include <H5Cpp.h>
#include <torch/version.h>

#include <iostream>
#include <sstream>

#include "engine/model_loader.h"
#include "engine/subject.h"
#include "io/manifest.h"
#include "io/nifti_file.h"
#include "io/npy.h"
#include "io/output_dir.h"
#include "io/paths.h"

namespace mlens::tools {

void add_model_options(po::options_description& o, bool ensembles) {
  o.add_options()("model,m", po::value<std::string>()->value_name("FILE"),
                  "Keras .h5 file: a full model (model.save) or weights only (save_weights, needs --arch)")(
      "arch", po::value<std::string>()->value_name("NAME"),
      "architecture for a weights-only file: mrinet (xai4mri's MRInet)")(
      "input-shape", po::value<std::string>()->value_name("D,H,W"),
      "model input size, needed with --arch (e.g. 198,198,198); where a model saved with open axes (None) is "
      "given an input, the input's size fills them");
  if (ensembles)
    o.add_options()("manifest", po::value<std::string>()->value_name("JSON"),
                    "ensemble manifest (*.mlens.json) instead of --model: members, linear head, input geometry");
}

models::Int3 parse_shape(const std::string& text) {
  models::Int3 s{0, 0, 0};
  std::stringstream in(text);
  std::string part;
  int n = 0;
  while (std::getline(in, part, ',')) {
    if (n == 3) throw UsageError("--input-shape \"" + text + "\": expected three sizes D,H,W");
    try {
      s[n++] = std::stoll(part);
    } catch (const std::exception&) {
      throw UsageError("--input-shape \"" + text + "\": \"" + part + "\" is not a number");
    }
  }
  if (n != 3 || s[0] < 1 || s[1] < 1 || s[2] < 1) throw UsageError("--input-shape \"" + text + "\": expected D,H,W > 0");
  return s;
}

models::Sequential load_network(const po::variables_map& vm, const engine::Runtime& runtime,
                                const std::optional<models::Int3>& open_axes) {
  if (!vm.count("model")) throw UsageError("give the model: --model FILE");
  std::optional<models::Int3> shape;
  if (vm.count("input-shape")) shape = parse_shape(vm["input-shape"].as<std::string>());
  const std::string arch = vm.count("arch") ? vm["arch"].as<std::string>() : "";
  if (!arch.empty() && arch != "mrinet") throw UsageError("--arch " + arch + ": unknown architecture (known: mrinet)");
  try {
    return engine::load_network(vm["model"].as<std::string>(), arch, shape, runtime, open_axes);
  } catch (const engine::MissingArchitecture& e) {
    throw UsageError(e.what());  // the file is fine; the command line lacks --arch
  }
}

namespace {

std::string fingerprint(const std::string& path) {
  return std::filesystem::path(path).filename().string() + ": " + io::file_fingerprint(path);
}

// The manifest files and model files of an ensemble, outermost first.
void add_files(const io::EnsembleSpec& spec, std::vector<std::string>& files) {
  if (files.empty() || files.back() != fingerprint(spec.source)) files.push_back(fingerprint(spec.source));
  for (const io::MemberSpec& m : spec.members) {
    if (m.ensemble) add_files(*m.ensemble, files);
    else files.push_back(fingerprint(m.model) + (m.arch.empty() ? "" : ", arch " + m.arch));
  }
}

}  // namespace

LoadedModel load_model(const po::variables_map& vm, const engine::Runtime& runtime) {
  if (vm.count("manifest") && vm.count("model")) throw UsageError("give either --model or --manifest, not both");
  if (vm.count("manifest")) {
    const std::string path = vm["manifest"].as<std::string>();
    const io::EnsembleSpec spec = io::read_manifest(path);
    LoadedModel loaded{engine::load_ensemble(spec, runtime), engine::preprocess_spec(spec), path, spec.training_age_range, {}};
    models::check_single_output(loaded.model, "an ensemble manifest");
    add_files(spec, loaded.files);
    return loaded;
  }
  if (!vm.count("model")) throw UsageError("give the model: --model FILE (or an ensemble: --manifest FILE)");
  const std::string path = vm["model"].as<std::string>();
  // A NIfTI input's size fills the axes a model leaves open (None).
  std::optional<models::Int3> open_axes;
  if (vm.count("input") && !io::nifti_extension(vm["input"].as<std::string>()).empty()) {
    const std::vector<int64_t> dims = io::nifti_dims(vm["input"].as<std::string>());
    if (dims.size() >= 3 && dims[0] > 0 && dims[1] > 0 && dims[2] > 0) open_axes = models::Int3{dims[0], dims[1], dims[2]};
  }
  models::Sequential net = load_network(vm, runtime, open_axes);
  // One 3D volume gives one channel; a multi-channel model's cohort reads a 4D NIfTI per subject.
  if (net.input_channels != 1 && !vm.count("cohort"))
    throw std::invalid_argument("model \"" + net.name + "\" takes " + std::to_string(net.input_channels) +
                                " channels per voxel; a 3D NIfTI volume gives one (give a 4D NIfTI of " +
                                std::to_string(net.input_channels) + " volumes, one per channel, or a .npy array of shape " +
                                models::shape_text(net.keras_input_shape()) + ")");
  LoadedModel loaded{engine::as_ensemble(std::move(net)), engine::PreprocessSpec{}, path, {1, 0}, {}};
  loaded.files.push_back(fingerprint(path) + (vm.count("arch") ? ", arch " + vm["arch"].as<std::string>() : ""));
  return loaded;
}

LoadedModel load_model(const po::variables_map& vm, const engine::Runtime& runtime, const lrp::Composite& composite) {
  LoadedModel loaded = load_model(vm, runtime);
  try {
    lrp::check_layer_rules(loaded.model, composite);
    for (const auto& m : loaded.model.members)
      if (m.network) lrp::check_neuron(*m.network, composite.neuron);
  } catch (const std::invalid_argument& e) {
    throw UsageError(e.what());
  }
  return loaded;
}

void add_subject_options(po::options_description& o) {
  o.add_options()("input,i", po::value<std::string>()->value_name("VOL"),
                  "NIfTI volume: in the model's input grid for --model; for --manifest, the subject's volume, which the "
                  "manifest's preprocessing brings into the grid. With --model, a 4D NIfTI gives a multi-channel model one "
                  "volume per channel, and a .npy array of one sample as Keras takes it (channels last: (D,H,W,C), "
                  "(H,W,C) for 2D models; float32 or float64) fits any model")(
      "mask", po::value<std::string>()->value_name("MASK"), "brain mask in the volume's grid (voxels with 0 are zeroed)");
}

engine::Prepared prepare_subject(const po::variables_map& vm, const LoadedModel& loaded) {
  const std::string input = vm["input"].as<std::string>();
  std::optional<io::Volume> mask;
  if (vm.count("mask")) mask = io::read_volume(vm["mask"].as<std::string>());
  return engine::prepare(io::read_volume(input), loaded.preprocess, mask ? &*mask : nullptr, input);
}

bool is_array_input(const po::variables_map& vm) {
  if (!vm.count("input")) return false;
  const std::string input = vm["input"].as<std::string>();
  if (io::has_npy_extension(input)) return true;
  const std::vector<int64_t> dims = io::nifti_extension(input).empty() ? std::vector<int64_t>{} : io::nifti_dims(input);
  return dims.size() == 4 && dims[3] > 1;
}

namespace {

// The spatial size of a sample as Keras takes it, (D, H, W, C) or (H, W, C), with or without a batch
// axis of 1: what fills a model's open axes. (1, H, W, C) reads as D = 1 either way.
std::optional<models::Int3> spatial_size(const std::vector<int64_t>& shape) {
  std::vector<int64_t> s(shape.begin(), shape.end() - (shape.empty() ? 0 : 1));
  if (s.size() == 4 && s[0] == 1) s.erase(s.begin());
  if (s.size() == 3) return models::Int3{s[0], s[1], s[2]};
  if (s.size() == 2) return models::Int3{1, s[0], s[1]};
  return std::nullopt;
}

}  // namespace

ArraySubject load_array_subject(const po::variables_map& vm, const engine::Runtime& runtime, const lrp::Composite* composite) {
  ArraySubject s;
  s.source = vm["input"].as<std::string>();
  const bool nifti = !io::has_npy_extension(s.source);
  if (vm.count("manifest"))
    throw UsageError("a " + std::string(nifti ? "4D NIfTI" : ".npy") +
                     " --input goes with --model: an ensemble's manifest preprocesses single NIfTI volumes");
  if (vm.count("mask"))
    throw UsageError(nifti ? "--mask is for single volumes; zero the masked voxels in every volume of the 4D file"
                           : "--mask is for NIfTI volumes; zero the array's voxels before saving it");
  // A 4D NIfTI's size from its header, so that the model is loaded, and the file's volumes counted, before
  // any of them is decoded.
  const std::vector<int64_t> dims = nifti ? io::nifti_dims(s.source) : std::vector<int64_t>{};
  if (std::any_of(dims.begin(), dims.end(), [](int64_t d) { return d < 1; })) io::read_volumes(s.source);  // names the bad dim[i]
  if (!nifti) s.array = io::read_npy(s.source);
  s.net = load_network(vm, runtime, spatial_size(nifti ? dims : s.array.shape));
  if (nifti) {
    // (D, H, W, C); a 2D model's (H, W, C) from a file of one plane (D = 1).
    std::vector<int64_t> shape = dims;
    if (s.net.spatial_rank == 2 && shape.size() == 4 && shape[0] == 1) shape.erase(shape.begin());
    if (shape != s.net.keras_input_shape())
      throw std::invalid_argument("\"" + s.source + "\": 4D NIfTI of " + models::shape_text(dims) + " (" +
                                  std::to_string(dims.back()) + " volumes) does not fit model \"" + s.net.name +
                                  "\", which takes " + models::shape_text(s.net.keras_input_shape()) +
                                  " (channels last: one volume per channel)");
    std::vector<io::Volume> channels = io::read_volumes(s.source);
    s.grid = io::Volume{channels[0].shape, {}, channels[0].geometry};
    s.array = engine::channels_last(channels);
    s.array.shape = shape;
  }
  if (composite) {
    try {
      lrp::check_explainable(s.net);
      lrp::check_layer_rules(s.net, *composite);
      lrp::check_neuron(s.net, composite->neuron);
    } catch (const std::invalid_argument& e) {
      throw UsageError(e.what());
    }
  }
  s.x = engine::array_input(s.array, s.net, runtime, s.source);
  return s;
}

void add_runtime_options(po::options_description& o) {
  o.add_options()("device", po::value<std::string>()->default_value("cpu")->value_name("DEV"),
                  "cpu, cuda or cuda:N (needs a CUDA LibTorch)")(
      "threads", po::value<int>()->default_value(0)->value_name("N"), "CPU threads; 0 = all cores")(
      "dtype", po::value<std::string>()->default_value("float32")->value_name("TYPE"),
      "float32, or float64 for validation against references")(
      "fast-math", po::value<std::string>()->default_value("none")->value_name("MODE"),
      "trade float32's exactness for GPU speed: tf32 (CUDA tensor cores round matrix operands to a 10-bit "
      "mantissa; no effect on the CPU) or bf16 (bfloat16 throughout; slower on most CPUs; errors of several "
      "percent, tens of percent for z, epsilon and the gradients); `mlens validate --fast-math` prints the error "
      "against exact float32 (docs/performance.md)");
}

engine::Runtime runtime_from(const po::variables_map& vm) {
  engine::Runtime r;
  try {
    r = engine::Runtime::parse(vm["device"].as<std::string>(), vm["dtype"].as<std::string>(), vm["threads"].as<int>(),
                               vm["fast-math"].as<std::string>());
  } catch (const std::invalid_argument& e) {
    throw UsageError(e.what());
  }
  r.activate();
  return r;
}

void add_rule_options(po::options_description& o) {
  o.add_options()("rule", po::value<std::string>()->default_value("preset-a")->value_name("SPEC"),
                  "composite: preset-a (iNNvestigate lrp.sequential_preset_a), preset-b, preset-a-flat, preset-b-flat, "
                  "Zennit's epsilon-plus, epsilon-plus-flat, epsilon-alpha2-beta1, epsilon-gamma-box, deep_taylor, "
                  "deep_taylor.bounded; one rule on every layer (z, epsilon, alpha-beta, zplus, zplus-fast, flat, w2, "
                  "zbox, gamma, with parameters as in epsilon(0.25), alpha-beta(2, 1, bias=none), zbox(0, 1)); or a "
                  "table key=rule,... whose keys are the roles input, conv, dense or a layer's name, e.g. "
                  "conv=epsilon(0.25),dense=epsilon(0.1),input=zbox(0,1),conv3d_1=flat; iNNvestigate's analyzer names "
                  "(lrp.z_IB, lrp.alpha_2_beta_1, ...) as given")(
      "epsilon", po::value<double>()->value_name("E"),
      "epsilon of every epsilon rule, also those a table sets (preset-a: 0.1 on dense layers)")(
      "alpha", po::value<double>()->value_name("A"),
      "alpha of every alpha-beta rule (alpha - beta = 1: alone, it sets beta to alpha - 1)")(
      "beta", po::value<double>()->value_name("B"), "beta of every alpha-beta rule (alone, it sets alpha to beta + 1)")(
      "bias-rule", po::value<std::string>()->value_name("R"),
      "where biases go: innvestigate (default; whole bias in both denominators), zennit (b+ activator, b- "
      "inhibitor), none (conserving)")(
      "ties", po::value<std::string>()->value_name("T"),
      "max-pool ties: first (default; first maximum wins) or tf (every input within 1e-5 of the maximum, as "
      "TensorFlow's gradient)")(
      "low", po::value<double>()->value_name("L"), "z-box lower bound of the input (default -1; deep_taylor.bounded needs it)")(
      "high", po::value<double>()->value_name("H"), "z-box upper bound of the input (default 1; deep_taylor.bounded needs it)")(
      "gamma", po::value<double>()->value_name("G"), "gamma of every gamma rule (default 0.25, as Zennit)")(
      "method", po::value<std::string>()->value_name("NAME"),
      "instead of --rule: a gradient method (gradient, input_t_gradient, integrated_gradients, smoothgrad, "
      "deconvnet, guided_backprop) or any --rule SPEC; iNNvestigate's analyzer names are accepted as given "
      "(lrp.sequential_preset_a, lrp.z_IB, deep_taylor.bounded, integrated_gradients)")(
      "steps", po::value<int>()->value_name("N"), "integrated_gradients: points on the path (default 64)")(
      "baseline", po::value<double>()->value_name("V"), "integrated_gradients: the reference input's value (default 0)")(
      "samples", po::value<int>()->value_name("N"), "smoothgrad: noisy copies averaged (default 64)")(
      "noise", po::value<double>()->value_name("SD"), "smoothgrad: the noise's standard deviation (default 1)")(
      "seed", po::value<uint64_t>()->value_name("N"), "smoothgrad: the noise's seed (default 0)")(
      "neuron", po::value<std::string>()->value_name("N"),
      "the output to explain: max (default; per sample its largest output, iNNvestigate's max_activation), an "
      "index from 0, or all (the whole output vector)");
}

lrp::Composite composite_from(const po::variables_map& vm) {
  try {
    lrp::RuleOverrides o;
    const auto get = [&](const char* name, std::optional<double>& out) {
      if (vm.count(name)) out = vm[name].as<double>();
    };
    get("epsilon", o.epsilon);
    get("alpha", o.alpha);
    get("beta", o.beta);
    get("low", o.low);
    get("high", o.high);
    get("gamma", o.gamma);
    if (vm.count("bias-rule")) o.bias = lrp::parse_bias_rule(vm["bias-rule"].as<std::string>());
    if (vm.count("ties")) o.ties = lrp::parse_ties(vm["ties"].as<std::string>());
    if (vm.count("method") && !vm["rule"].defaulted())
      throw std::invalid_argument("give --method or --rule, not both (--method takes every --rule SPEC too)");
    lrp::Composite c =
        lrp::with_overrides(lrp::parse_composite(vm[vm.count("method") ? "method" : "rule"].as<std::string>()), o);
    if (vm.count("steps")) c.gradient.steps = vm["steps"].as<int>();
    if (vm.count("baseline")) c.gradient.reference = vm["baseline"].as<double>();
    if (vm.count("samples")) c.gradient.samples = vm["samples"].as<int>();
    if (vm.count("noise")) c.gradient.noise = vm["noise"].as<double>();
    if (vm.count("seed")) c.gradient.seed = vm["seed"].as<uint64_t>();
    if (vm.count("neuron")) c.neuron = lrp::parse_neuron(vm["neuron"].as<std::string>());
    return c;
  } catch (const std::invalid_argument& e) {
    throw UsageError(e.what());
  }
}

nlohmann::json to_json(const std::vector<lrp::LayerAccount>& account) {
  nlohmann::json rows = nlohmann::json::array();
  for (const auto& a : account)
    rows.push_back({{"layer", a.layer}, {"kind", a.kind}, {"rule", a.rule}, {"primitive", a.primitive},
                    {"relevance_out", a.relevance_out}, {"relevance_in", a.relevance_in}, {"absorbed", a.absorbed},
                    {"small_denominators", a.small_denominators}, {"forward_seconds", a.forward_seconds},
                    {"backward_seconds", a.backward_seconds}});
  return rows;
}

nlohmann::json versions_json() {
  unsigned h5_major = 0, h5_minor = 0, h5_release = 0;
  H5::H5Library::getLibVersion(h5_major, h5_minor, h5_release);
  return {{"mlens", MLENS_VERSION},
          {"libtorch", TORCH_VERSION},
          {"hdf5", std::to_string(h5_major) + "." + std::to_string(h5_minor) + "." + std::to_string(h5_release)},
          {"torch_threads", at::get_num_threads()}};
}

void log(const std::string& message) { std::cerr << "mlens: " << message << std::endl; }

}  // namespace mlens::tools
