// libtorch pulls in glog, whose CHECK macros collide with doctest's. Include this
// after torch headers: it drops glog's short names and brings in doctest.
#pragma once
#include <torch/torch.h>
#undef CHECK
#undef CHECK_EQ
#undef CHECK_NE
#undef CHECK_LT
#undef CHECK_LE
#undef CHECK_GT
#undef CHECK_GE
#include <doctest.h>
