// MRInet, the base model of the MLENS brain-age ensembles (Hofmann et al., NeuroImage 2022), as
// xai4mri's `MRInet.create(n_classes=False, leaky_relu=False, batch_norm=False)` builds it in Keras:
//
//   Conv3D(16, 3, same, relu)  MaxPool3D(3, stride 2, same)
//   Conv3D(16, 3, same, relu)  MaxPool3D(3, 2, same)
//   Conv3D(32, 3, same, relu)  MaxPool3D(3, 2, same)
//   Conv3D(64, 3, same, relu)  MaxPool3D(3, 2, same)
//   Conv3D(32, 1, same, relu)  MaxPool3D(3, 2, same)
//   Flatten  Dropout(0.5)  Dense(64, relu)  Dense(1, linear)
//
// For a 198³ input the pooled sizes are 99, 50, 25, 13, 7, so the Flatten has 7³·32 = 10 976 features.
#pragma once

#include "models/keras_import.h"

namespace mlens::models {

// The Keras architecture (Keras 2.2 layer names: conv3d_1, max_pooling3d_1, ...) for an input (D, H, W).
KerasArchitecture mrinet_architecture(const Int3& input_shape, const std::string& name = "MRInet");

// An MRInet with seeded Keras-default random weights, and the Keras file holding them.
RandomModel mrinet(const Int3& input_shape, uint64_t seed = 0);

}  // namespace mlens::models
