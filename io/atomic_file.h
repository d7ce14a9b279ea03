// Atomic output: write under a temporary name next to the target, then rename over it.
// A killed process leaves at most a stray temporary file, never a half-written output.
#pragma once

#include <cstddef>
#include <functional>
#include <string>

namespace mlens::io {

// A temporary path in the same directory as `target` that keeps its extension (".nii.gz", ".json"), so
// writers that choose a format by extension still work.
std::string temporary_path_for(const std::string& target);

// Throws, naming `target`, unless it can be an output file: its directory exists and it is either
// absent or a regular file (or a link to one). A device, FIFO, socket or directory is never replaced.
void require_writable_file(const std::string& target);

// Checks `target` with require_writable_file, calls write(temporary_path), then renames the temporary onto `target`. On any exception the temporary
// is removed and the exception propagates; `target` is then untouched.
void write_atomically(const std::string& target, const std::function<void(const std::string&)>& write);

// Whether a file name is one of temporary_path_for's (".<stem>.tmp-<pid>-<n><ext>").
bool is_temporary_name(const std::string& file_name);

// Removes the temporaries a killed run left in `dir` (not in its subdirectories); returns how many.
// Only call it while no other process writes into `dir` (io/output_dir.h's lock).
std::size_t remove_stray_temporaries(const std::string& dir);

// Writes text (JSON, CSV) atomically.
void write_text_atomically(const std::string& target, const std::string& text);

}  // namespace mlens::io
