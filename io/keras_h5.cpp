#include "io/keras_h5.h"

#include <H5Cpp.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <stdexcept>
#include <system_error>

#include "io/atomic_file.h"
#include "io/contained.h"
#include "io/json.h"

namespace mlens::io {
namespace {

std::runtime_error file_error(const std::string& path, const std::string& what) {
  return std::runtime_error("\"" + path + "\": " + what);
}

hsize_t element_count(const H5::DataSpace& space) {
  if (space.getSimpleExtentType() == H5S_NULL) return 0;
  return static_cast<hsize_t>(space.getSimpleExtentNpoints());
}

// The file being read: its sizes bound what its metadata may claim.
struct Source {
  std::string path;
  hsize_t bytes;  // the file's size
};

// Reads a string attribute that is a scalar or a 1D array, fixed-length or variable-length. The strings
// are stored in the file (a variable-length one as a reference of at least 12 bytes): a count or size
// the file cannot hold is refused before anything is allocated for it.
std::vector<std::string> read_strings(const H5::Attribute& attr, const Source& file) {
  const auto bad = [&](const std::string& what) { return file_error(file.path, "attribute \"" + attr.getName() + "\" " + what); };
  const H5::DataSpace space = attr.getSpace();
  const hsize_t n = element_count(space);
  if (n == 0) return {};
  if (attr.getTypeClass() != H5T_STRING) throw bad("is not a string");
  const H5::StrType type = attr.getStrType();
  std::vector<std::string> out;
  const hsize_t stored_each = type.isVariableStr() ? 12 : std::max<hsize_t>(type.getSize(), 1);
  if (n > std::min<hsize_t>(file.bytes / stored_each, hsize_t{1} << 24))
    throw bad("claims " + std::to_string(n) + " strings of at least " + std::to_string(stored_each) + " bytes (the " +
              std::to_string(file.bytes) + "-byte file is corrupt)");
  if (type.isVariableStr()) {
    std::vector<char*> ptrs(n, nullptr);
    attr.read(type, ptrs.data());
    for (char* p : ptrs) out.emplace_back(p ? p : "");
    H5Dvlen_reclaim(type.getId(), space.getId(), H5P_DEFAULT, ptrs.data());
  } else {
    const size_t len = type.getSize();
    if (len == 0) throw bad("is a string type of 0 bytes (the file is corrupt)");
    std::vector<char> buf(n * len);
    attr.read(type, buf.data());
    for (hsize_t i = 0; i < n; ++i) {
      const char* s = buf.data() + i * len;
      size_t l = 0;
      while (l < len && s[l] != '\0') ++l;
      out.emplace_back(s, l);
    }
  }
  return out;
}

std::string read_string(const H5::H5Object& obj, const std::string& name, const Source& file) {
  if (!obj.attrExists(name)) return "";
  const auto v = read_strings(obj.openAttribute(name), file);
  return v.empty() ? "" : v.front();
}

WeightArray read_weight(const H5::Group& layer, const std::string& layer_name, const std::string& weight,
                        const Source& file) {
  const auto bad = [&](const std::string& what) {
    return file_error(file.path, "weight \"" + weight + "\" of layer \"" + layer_name + "\" " + what);
  };
  if (!layer.nameExists(weight))
    throw file_error(file.path, "layer \"" + layer_name + "\" lists weight \"" + weight + "\" but has no such dataset");
  const H5::DataSet ds = layer.openDataSet(weight);
  const H5::DataSpace space = ds.getSpace();
  WeightArray w;
  w.name = weight;
  const int rank = space.getSimpleExtentNdims();
  std::vector<hsize_t> dims(rank);
  space.getSimpleExtentDims(dims.data());
  w.shape.assign(dims.begin(), dims.end());
  const hsize_t value_bytes = ds.getDataType().getSize();
  if (ds.getTypeClass() != H5T_FLOAT || value_bytes == 0 || value_bytes > 16) throw bad("is not floating point");
  // The shape is a claim of the file's metadata, and so is the size stored for it: the values must be in
  // the file before mlens allocates for them, every one of them (Keras never leaves chunks unwritten), or,
  // compressed, at most 1032 bytes of them per stored byte (deflate's limit).
  const hsize_t count = element_count(space), stored = ds.getStorageSize();
  const H5::DSetCreatPropList layout = ds.getCreatePlist();
  const hsize_t per_stored_byte = layout.getNfilters() > 0 ? 1032 : 1;
  if (count > 0 && (stored == 0 || stored > file.bytes || count > (hsize_t{1} << 32) ||
                    count * value_bytes / per_stored_byte > stored))
    throw bad("claims " + std::to_string(count) + " values of " + std::to_string(value_bytes) + " bytes but the file stores " +
              std::to_string(stored) + " bytes for it" + (stored > file.bytes ? ", more than its " + std::to_string(file.bytes) + " bytes" : "") +
              " (the file is corrupt)");
  if (count > 0 && layout.getLayout() == H5D_CHUNKED) {  // compressed chunks never written hide behind the 1032
    std::vector<hsize_t> chunk(static_cast<std::size_t>(rank));
    if (layout.getChunk(rank, chunk.data()) != rank) throw bad("has a chunk shape of another rank (the file is corrupt)");
    hsize_t chunks = 1, written = 0;
    for (int a = 0; a < rank; ++a) {
      if (chunk[a] == 0) throw bad("has a chunk of size 0 (the file is corrupt)");
      chunks *= dims[a] / chunk[a] + (dims[a] % chunk[a] != 0);  // at most count: no overflow
    }
    if (H5Dget_num_chunks(ds.getId(), space.getId(), &written) < 0 || written < chunks)
      throw bad("has " + std::to_string(written) + " of its " + std::to_string(chunks) +
                " chunks written: the values of the others are not in the file (the file is corrupt)");
  }
  w.values.resize(count);
  if (!w.values.empty()) ds.read(w.values.data(), H5::PredType::NATIVE_DOUBLE);
  for (size_t i = 0; i < w.values.size(); ++i)
    if (!std::isfinite(w.values[i]))
      throw bad(std::string("holds ") + (std::isnan(w.values[i]) ? "NaN" : "Inf") + " at flat index " + std::to_string(i));
  return w;
}

// The reading itself; read_keras_h5 runs it in a child process first (io/contained.h).
KerasFile read_file(const std::string& path) {
  bool is_hdf5 = false;
  try {
    is_hdf5 = H5::H5File::isHdf5(path.c_str());
  } catch (const H5::Exception&) {
  }
  if (!is_hdf5) throw file_error(path, "not an HDF5 file (expected a Keras .h5 model or weights file)");

  H5::Exception::dontPrint();
  KerasFile k;
  k.path = path;
  try {
    std::error_code error;
    const Source source{path, static_cast<hsize_t>(std::filesystem::file_size(path, error))};
    if (error) throw file_error(path, "cannot read its size (" + error.message() + ")");
    H5::H5File file(path, H5F_ACC_RDONLY);
    const bool full_model = file.nameExists("model_weights");
    if (!full_model && !file.attrExists("layer_names"))
      throw file_error(path, "no group \"model_weights\" and no root attribute \"layer_names\": "
                             "not a Keras model or weights file");
    const H5::Group weights_root = file.openGroup(full_model ? "model_weights" : "/");
    if (!weights_root.attrExists("layer_names"))
      throw file_error(path, "group \"model_weights\" has no attribute \"layer_names\"");

    const std::string config = read_string(file, "model_config", source);
    if (!config.empty()) {
      try {
        k.model_config = parse_json(config, "\"" + path + "\": attribute \"model_config\"");
      } catch (const nlohmann::json::exception& e) {
        throw file_error(path, std::string("attribute \"model_config\" is not valid JSON (") + e.what() + ")");
      }
    }
    k.keras_version = read_string(file, "keras_version", source);
    if (k.keras_version.empty()) k.keras_version = read_string(weights_root, "keras_version", source);
    k.backend = read_string(file, "backend", source);
    if (k.backend.empty()) k.backend = read_string(weights_root, "backend", source);

    for (const std::string& layer_name : read_strings(weights_root.openAttribute("layer_names"), source)) {
      if (!weights_root.nameExists(layer_name))
        throw file_error(path, "\"layer_names\" lists \"" + layer_name + "\" but there is no such group");
      const H5::Group layer = weights_root.openGroup(layer_name);
      WeightGroup g;
      g.layer_name = layer_name;
      if (layer.attrExists("weight_names"))
        for (const std::string& w : read_strings(layer.openAttribute("weight_names"), source))
          g.weights.push_back(read_weight(layer, layer_name, w, source));
      k.groups.push_back(std::move(g));
    }
  } catch (const H5::Exception& e) {
    throw file_error(path, "HDF5 error in " + e.getFuncName() + ": " + e.getDetailMsg() + " (the file is corrupt or not a Keras file)");
  }
  return k;
}

}  // namespace

KerasFile read_keras_h5(const std::string& path) {
  const std::filesystem::file_status status = std::filesystem::status(path);
  if (!std::filesystem::exists(status)) throw file_error(path, "no such file");
  if (std::filesystem::is_directory(status)) throw file_error(path, "is a directory, expected a Keras .h5 file");
  if (!std::filesystem::is_regular_file(status)) throw file_error(path, "is not a regular file, expected a Keras .h5 file");
  read_contained(path, "HDF5", [&] { read_file(path); }, hdf5_time_limit(path));
  return read_file(path);
}

KerasFile detail::read_keras_h5_uncontained(const std::string& path) { return read_file(path); }

namespace {

H5::StrType string_type(StringStyle style, size_t max_len) {
  if (style == StringStyle::VariableLength) {
    H5::StrType t(H5::PredType::C_S1, H5T_VARIABLE);
    t.setCset(H5T_CSET_UTF8);
    return t;
  }
  H5::StrType t(H5::PredType::C_S1, std::max<size_t>(max_len, 1));
  t.setStrpad(H5T_STR_NULLPAD);  // numpy's 'S' dtype, as Keras 2.2 writes it
  return t;
}

void write_strings(H5::H5Object& obj, const std::string& name, const std::vector<std::string>& values,
                   StringStyle style, bool scalar) {
  if (values.empty()) {
    // What h5py stores for `attrs[name] = []`: an empty float64 array.
    hsize_t zero = 0;
    H5::DataSpace space(1, &zero);
    obj.createAttribute(name, H5::PredType::NATIVE_DOUBLE, space);
    return;
  }
  size_t max_len = 0;
  for (const auto& v : values) max_len = std::max(max_len, v.size());
  const H5::StrType type = string_type(style, max_len);
  hsize_t n = values.size();
  const H5::DataSpace space = scalar ? H5::DataSpace(H5S_SCALAR) : H5::DataSpace(1, &n);
  H5::Attribute attr = obj.createAttribute(name, type, space);
  if (style == StringStyle::VariableLength) {
    std::vector<const char*> ptrs;
    for (const auto& v : values) ptrs.push_back(v.c_str());
    attr.write(type, ptrs.data());
  } else {
    std::vector<char> buf(values.size() * max_len, '\0');
    for (size_t i = 0; i < values.size(); ++i) std::copy(values[i].begin(), values[i].end(), buf.begin() + i * max_len);
    attr.write(type, buf.data());
  }
}

}  // namespace

void write_keras_h5(const std::string& path, const KerasFile& model, StringStyle strings, bool float64) {
  write_atomically(path, [&](const std::string& tmp) {
    H5::Exception::dontPrint();
    try {
      H5::H5File file(tmp, H5F_ACC_TRUNC);
      H5::Group root = file.openGroup("/");
      const bool full = !model.model_config.is_null();
      if (full) {
        write_strings(root, "keras_version", {model.keras_version}, strings, true);
        write_strings(root, "backend", {model.backend}, strings, true);
        write_strings(root, "model_config", {model.model_config.dump()}, strings, true);
      }
      H5::Group weights_root = full ? file.createGroup("model_weights") : root;
      std::vector<std::string> names;
      for (const auto& g : model.groups) names.push_back(g.layer_name);
      write_strings(weights_root, "layer_names", names, strings, false);
      write_strings(weights_root, "keras_version", {model.keras_version}, strings, true);
      write_strings(weights_root, "backend", {model.backend}, strings, true);

      H5::LinkCreatPropList make_parents;
      make_parents.setCreateIntermediateGroup(true);
      for (const auto& g : model.groups) {
        H5::Group layer = weights_root.createGroup(g.layer_name);
        std::vector<std::string> weight_names;
        for (const auto& w : g.weights) weight_names.push_back(w.name);
        write_strings(layer, "weight_names", weight_names, strings, false);
        for (const auto& w : g.weights) {
          std::vector<hsize_t> dims(w.shape.begin(), w.shape.end());
          H5::DataSpace space(static_cast<int>(dims.size()), dims.data());
          const H5::PredType& type = float64 ? H5::PredType::IEEE_F64LE : H5::PredType::IEEE_F32LE;
          H5::DataSet ds = layer.createDataSet(w.name, type, space, H5::DSetCreatPropList::DEFAULT,
                                               H5::DSetAccPropList::DEFAULT, make_parents);
          ds.write(w.values.data(), H5::PredType::NATIVE_DOUBLE);
        }
      }
    } catch (const H5::Exception& e) {
      throw file_error(path, "writing failed in " + e.getFuncName() + ": " + e.getDetailMsg());
    }
  });
}

}  // namespace mlens::io
