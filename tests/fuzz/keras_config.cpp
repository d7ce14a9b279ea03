// Keras model_config JSON to a network: io::parse_keras_config and models::import_keras, the part of
// the Keras path that is mlens' own code, in process and fast (the keras target forks an HDF5 reader
// for every input). Weights are drawn at random, at most 2^16 values per array: the fuzzer explores
// the importer's checks, not the allocator.
#include <exception>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "io/json.h"
#include "io/keras_config.h"
#include "models/keras_import.h"

namespace {

class BoundedRandomWeights : public mlens::models::WeightSource {
 public:
  std::vector<mlens::models::WeightArray> take(const std::string& layer, const std::string& keras_class,
                                               const std::vector<mlens::models::ExpectedWeight>& expected) override {
    for (const auto& e : expected) {
      int64_t n = 1;
      for (int64_t d : e.shape) {
        if (d < 0 || (d > 0 && n > (int64_t{1} << 16) / d)) throw std::invalid_argument("weights too large for the fuzzer");
        n *= d;
      }
    }
    return random_.take(layer, keras_class, expected);
  }

 private:
  mlens::models::RandomWeights random_{1, 0.1};
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  // As the Keras reader parses a file's model_config (nesting bounded, io/json.h).
  const nlohmann::json config = mlens::io::parse_json(std::string(data, data + size), "fuzz.h5", /*allow_exceptions=*/false);
  if (config.is_discarded()) return 0;
  try {
    BoundedRandomWeights weights;
    mlens::models::import_keras(mlens::io::parse_keras_config(config, "fuzz.h5"), weights, std::nullopt, "fuzz.h5");
  } catch (const std::exception&) {
  }
  return 0;
}
