// Atomic output: write under a temporary name next to the target, then rename over it.
// A killed process leaves at most a stray temporary file, never a half-written output.
#pragma once

#include <functional>
#include <string>

namespace mlens::io {

// A temporary path in the same directory as `target` that keeps its extension (".nii.gz", ".json"), so
// writers that choose a format by extension still work.
std::string temporary_path_for(const std::string& target);

// Calls write(temporary_path), then renames the temporary onto `target`. On any exception the temporary
// is removed and the exception propagates; `target` is then untouched.
void write_atomically(const std::string& target, const std::function<void(const std::string&)>& write);

// Writes text (JSON, CSV) atomically.
void write_text_atomically(const std::string& target, const std::string& text);

}  // namespace mlens::io
