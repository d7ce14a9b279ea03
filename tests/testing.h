// Include this instead of catch2/catch.hpp. Debian's LibTorch pulls in glog, whose CHECK macro would
// replace Catch's; loading LibTorch first and dropping glog's CHECK keeps Catch's.
#pragma once

#include <ATen/ATen.h>
#undef CHECK
#include <catch2/catch.hpp>
