// Reading a file with a library that may crash on corrupt bytes, contained in a child process.
//
// The HDF5 library trusts the bytes of a file's metadata: a Keras .h5 with a few corrupted bytes can make
// it read through a wild pointer (seen in H5HG_read while reading string attributes) and the signal
// kills mlens with nothing said. No check from outside the library can rule that out, so the reader
// runs once in a forked child first: if the child dies, the file is reported as corrupt and mlens goes
// on; if it succeeds, the parent reads the file itself (the bytes are the same, so it cannot crash).
#pragma once

#include <functional>
#include <string>

namespace mlens::io {

// Runs `read` in a child process. Returns when it finished normally; rethrows its error (message only)
// as std::runtime_error; throws std::runtime_error naming `path` and `library` when the child was killed
// by a signal or took longer than `timeout_seconds` (it is killed then).
void read_contained(const std::string& path, const std::string& library, const std::function<void()>& read,
                    int timeout_seconds);

// The time limit for reading `path` with HDF5: a sound file is read in well under a second per 20 MB, and
// a corrupt one can make HDF5 loop for ever. 5 s plus 1 s per 20 MB (at most 605 s), short so that a
// cohort (or a fuzzer, whose limit is 10 s) is not held up by one file.
int hdf5_time_limit(const std::string& path);

}  // namespace mlens::io
