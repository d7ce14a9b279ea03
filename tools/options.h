// Option groups shared by several subcommands, declared once (model, runtime, LRP rule), and the
// functions that turn parsed options into engine values.
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

#include "engine/cohort.h"
#include "engine/pipeline.h"
#include "engine/runtime.h"
#include "engine/subject.h"
#include "io/cohort.h"
#include "lrp/ensemble.h"
#include "models/ensemble.h"
#include "tools/command.h"

namespace mlens::tools {

// --model FILE, --arch NAME, --input-shape D,H,W; with `ensembles` also --manifest FILE
void add_model_options(po::options_description& options, bool ensembles = true);
// A full Keras model, or a weights-only file with --arch; on the runtime's device and dtype. `open_axes`
// fills the axes a model leaves open (None) when --input-shape is not given.
models::Sequential load_network(const po::variables_map& vm, const engine::Runtime& runtime,
                                const std::optional<models::Int3>& open_axes = std::nullopt);
// What predict/explain/validate run: an ensemble (a single --model is an ensemble of one) and the
// manifest's preprocessing (none for --model: the volume must already be in the model's grid).
struct LoadedModel {
  models::Ensemble model;
  engine::PreprocessSpec preprocess;
  std::string source;  // the --model or --manifest path
  std::array<double, 2> training_age_range{1, 0};  // from the manifest; min > max: unknown
  // Every file that makes the model (manifests, members): "name: fingerprint" (io::file_fingerprint),
  // the record of a cohort's configuration.json.
  std::vector<std::string> files;
};
LoadedModel load_model(const po::variables_map& vm, const engine::Runtime& runtime);
// The same, for a command that explains with `composite`: a rule table that names a layer the model
// lacks is a usage error.
LoadedModel load_model(const po::variables_map& vm, const engine::Runtime& runtime, const lrp::Composite& composite);

// --input VOL, --mask MASK
void add_subject_options(po::options_description& options);
// The subject's volume through the model's preprocessing (reorient, prune, normalise).
engine::Prepared prepare_subject(const po::variables_map& vm, const LoadedModel& loaded);

// An --input a single network takes whole (docs/cli.md): a .npy array (any model shape: 2D, several
// channels), or a 4D NIfTI whose volumes are a multi-channel model's channels. Loaded: the network of
// --model (never a manifest, whose preprocessing is for one volume), sizes it leaves open (None) taken
// from the input, the input as the array Keras takes (channels last), and the network's input
// [1, C, D, H, W] made from it. With `composite`, its table must fit the network (usage error).
bool is_array_input(const po::variables_map& vm);
struct ArraySubject {
  models::Sequential net;
  io::NpyArray array;
  at::Tensor x;
  std::string source;             // the --input path
  std::optional<io::Volume> grid;  // a NIfTI input's grid (no voxels): where its maps are placed
};
ArraySubject load_array_subject(const po::variables_map& vm, const engine::Runtime& runtime,
                                const lrp::Composite* composite = nullptr);

// --device, --threads, --dtype
void add_runtime_options(po::options_description& options);
engine::Runtime runtime_from(const po::variables_map& vm);

// --rule, --epsilon, --alpha, --beta, --bias-rule, --ties, --low, --high, --neuron, the gradient methods' options
void add_rule_options(po::options_description& options);
lrp::Composite composite_from(const po::variables_map& vm);

// "198,198,198" -> {198, 198, 198}
models::Int3 parse_shape(const std::string& text);

using engine::to_json;
nlohmann::json to_json(const std::vector<lrp::LayerAccount>& account);
nlohmann::json versions_json();

// --cohort CSV, --shard I/N, --force, --bias-model JSON, --bias-method, --mni (tools/cohort.cpp)
void add_cohort_options(po::options_description& options);
// --batch, --readers, --writers (part of add_cohort_options)
void add_pipeline_options(po::options_description& options);
// The cohort run's options from the command line (--out, --members, --force, --bias-model, --bias-method, --mni).
engine::CohortOptions cohort_options(const po::variables_map& vm, const LoadedModel& loaded, bool explain,
                                     const lrp::Composite& composite);
// --shard I/N: part I of N of the cohort (io::shard), with its tag for file names ("shard-2-of-8") and
// its label for progress lines ("shard 2/8"); nullopt without --shard. Usage errors name the option.
struct Shard {
  int index = 1, count = 1;
  std::vector<io::Subject> subjects;
  std::string tag, label;
};
std::optional<Shard> shard_from(const po::variables_map& vm, const std::vector<io::Subject>& cohort);
// A bar with rate and ETA on a terminal; one line per subject otherwise (logs, Slurm), each starting
// with `label` (a shard's) when given.
std::function<void(const engine::CohortProgress&)> progress_display(const std::string& label = "");
// Runs a whole cohort into --out DIR (engine/cohort.h); `explain` adds relevance maps. Exit code 0, or
// 4 when some subjects failed.
int run_cohort(const po::variables_map& vm, const engine::Runtime& runtime, const LoadedModel& loaded, bool explain,
               const lrp::Composite& composite);

// Progress and log lines go to stderr so stdout stays machine-readable.
void log(const std::string& message);

}  // namespace mlens::tools
