#include "io/cohort_store.h"

#include <H5Cpp.h>

#include <cmath>
#include <cstdlib>
#include <stdexcept>

#include "io/atomic_file.h"

namespace mlens::io {
namespace {

// HDF5 stamps every object with its creation and modification times unless told not to; without them
// the same cohort gives the same bytes, run after run.
H5::DSetCreatPropList untimed() {
  H5::DSetCreatPropList p;
  H5Pset_obj_track_times(p.getId(), false);
  return p;
}

H5::Group create_group(H5::Group& where, const std::string& name) {
  const hid_t gcpl = H5Pcreate(H5P_GROUP_CREATE);
  H5Pset_obj_track_times(gcpl, false);
  const hid_t group = H5Gcreate2(where.getId(), name.c_str(), H5P_DEFAULT, gcpl, H5P_DEFAULT);
  H5Pclose(gcpl);
  if (group < 0) throw H5::GroupIException("create_group", "cannot create group " + name);
  H5Gclose(group);
  return where.openGroup(name);
}

void write_strings(H5::Group& where, const std::string& name, const std::vector<std::string>& values) {
  const hsize_t n = values.size();
  std::vector<const char*> pointers;
  for (const std::string& v : values) pointers.push_back(v.c_str());
  H5::StrType type(H5::PredType::C_S1, H5T_VARIABLE);
  H5::DataSet ds = where.createDataSet(name, type, H5::DataSpace(1, &n), untimed());
  if (n) ds.write(pointers.data(), type);
}

void write_affine(H5::H5Object& object, const Geometry& g) {
  const hsize_t dims[2] = {4, 4};
  const std::array<double, 16> a = ras_affine(g);
  object.createAttribute("affine", H5::PredType::IEEE_F64LE, H5::DataSpace(2, dims)).write(H5::PredType::NATIVE_DOUBLE, a.data());
}

bool numeric(const std::vector<std::string>& cells) {
  for (const std::string& c : cells) {
    if (c.empty() || c == "NA" || c == "NaN") continue;
    char* end = nullptr;
    std::strtod(c.c_str(), &end);
    if (end == c.c_str() || *end != '\0') return false;
  }
  return true;
}

H5::DSetCreatPropList compressed(const std::vector<hsize_t>& chunk) {
  H5::DSetCreatPropList p = untimed();
  p.setChunk(static_cast<int>(chunk.size()), chunk.data());
  p.setDeflate(4);
  return p;
}

}  // namespace

std::array<double, 16> ras_affine(const Geometry& g) {
  std::array<double, 16> a{};
  for (int r = 0; r < 3; ++r) {
    const double flip = r < 2 ? -1 : 1;  // LPS → RAS
    for (int c = 0; c < 3; ++c) a[4 * r + c] = flip * g.direction[3 * r + c] * g.spacing[c];
    a[4 * r + 3] = flip * g.origin[r];
  }
  a[15] = 1;
  return a;
}

void write_cohort_store(const std::string& path, const Table& table, const StoreMaps& maps) {
  if (table.columns.empty() || table.columns[0] != "id")
    throw std::invalid_argument("cohort store \"" + path + "\": the table must start with an id column");
  const std::size_t n = table.rows.size();
  write_atomically(path, [&](const std::string& tmp) {
    H5::Exception::dontPrint();
    std::string subject;
    try {
      H5::H5File file(tmp, H5F_ACC_TRUNC);
      H5::Group root = file.openGroup("/");
      write_strings(root, "id", table.text("id"));
      H5::Group columns = create_group(root, "table");
      for (std::size_t c = 1; c < table.columns.size(); ++c) {
        const std::vector<std::string> cells = table.text(table.columns[c]);
        if (numeric(cells)) {
          const std::vector<double> values = table.numbers(table.columns[c]);
          const hsize_t len = values.size();
          columns.createDataSet(table.columns[c], H5::PredType::IEEE_F64LE, H5::DataSpace(1, &len), untimed())
              .write(values.data(), H5::PredType::NATIVE_DOUBLE);
        } else {
          write_strings(columns, table.columns[c], cells);
        }
      }
      if (!maps.load || n == 0) return;
      // One channel: [X, Y, Z] per subject; several (a multi-channel model's maps): [C, X, Y, Z].
      const auto map_dims = [](const std::vector<Volume>& v) {
        std::vector<hsize_t> d;
        if (v.size() > 1) d.push_back(v.size());
        for (int a = 0; a < 3; ++a) d.push_back(static_cast<hsize_t>(v.at(0).shape[a]));
        return d;
      };
      std::vector<float> channels;  // several channels' voxels, one after the other
      const auto voxels = [&channels](const std::vector<Volume>& v) {
        if (v.size() == 1) return v[0].voxels.data();
        channels.clear();
        for (const Volume& c : v) channels.insert(channels.end(), c.voxels.begin(), c.voxels.end());
        return static_cast<const float*>(channels.data());
      };
      if (maps.common_grid) {
        subject = table.rows[0][0];
        const std::vector<Volume> first = maps.load(0);
        const std::vector<hsize_t> one = map_dims(first);
        std::vector<hsize_t> dims{n}, count{1}, offset(one.size() + 1, 0);
        dims.insert(dims.end(), one.begin(), one.end());
        count.insert(count.end(), one.begin(), one.end());
        H5::DataSpace space(static_cast<int>(dims.size()), dims.data());
        H5::DataSet ds = file.createDataSet(maps.name, H5::PredType::IEEE_F32LE, space, compressed(count));
        write_affine(ds, first[0].geometry);
        H5::DataSpace slab_memory(static_cast<int>(count.size()), count.data());
        for (std::size_t k = 0; k < n; ++k) {
          subject = table.rows[k][0];
          const std::vector<Volume> v = k == 0 ? first : maps.load(k);
          if (v.size() != first.size())
            throw std::invalid_argument("cohort store \"" + path + "\": subject " + subject + " has " + std::to_string(v.size()) +
                                        " map(s), subject " + table.rows[0][0] + " " + std::to_string(first.size()));
          for (const Volume& c : v) require_same_grid(first[0], table.rows[0][0], c, subject);
          offset[0] = k;
          H5::DataSpace slab = ds.getSpace();
          slab.selectHyperslab(H5S_SELECT_SET, count.data(), offset.data());
          ds.write(voxels(v), H5::PredType::NATIVE_FLOAT, slab_memory, slab);
        }
      } else {
        H5::Group group = create_group(root, maps.name);
        for (std::size_t k = 0; k < n; ++k) {
          subject = table.rows[k][0];
          const std::vector<Volume> v = maps.load(k);
          const std::vector<hsize_t> dims = map_dims(v);
          H5::DataSet ds = group.createDataSet(subject, H5::PredType::IEEE_F32LE, H5::DataSpace(static_cast<int>(dims.size()), dims.data()),
                                               compressed(dims));
          ds.write(voxels(v), H5::PredType::NATIVE_FLOAT);
          write_affine(ds, v[0].geometry);
        }
      }
    } catch (const H5::Exception& e) {
      throw std::runtime_error("cohort store \"" + path + "\": HDF5 error" + (subject.empty() ? "" : " at subject " + subject) +
                               " (" + e.getDetailMsg() + ")");
    }
  });
}

}  // namespace mlens::io
