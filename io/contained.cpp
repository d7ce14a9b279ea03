#include "io/contained.h"

#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <algorithm>
#include <cstring>
#include <filesystem>
#include <stdexcept>

// GCC says __SANITIZE_ADDRESS__, clang __has_feature(address_sanitizer).
#if defined(__SANITIZE_ADDRESS__)
#define MLENS_ADDRESS_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MLENS_ADDRESS_SANITIZER 1
#endif
#endif

namespace mlens::io {

namespace {

// A corrupt file's metadata can make the library ask for gigabytes (HDF5 asked for 4 GiB): the child
// may grow its data by 2 GiB at most, so such a request fails inside the library instead of paging.
// Not under AddressSanitizer, whose shadow memory counts as data; the fuzz runs cap allocations there.
void limit_memory() {
#if !defined(MLENS_ADDRESS_SANITIZER)
  long pages = 0, resident = 0, shared = 0, text = 0, lib = 0, data = 0;
  if (std::FILE* f = std::fopen("/proc/self/statm", "r")) {
    if (std::fscanf(f, "%ld %ld %ld %ld %ld %ld", &pages, &resident, &shared, &text, &lib, &data) != 6) data = 0;
    std::fclose(f);
  }
  if (data <= 0) return;
  const rlim_t limit = static_cast<rlim_t>(data) * static_cast<rlim_t>(::sysconf(_SC_PAGESIZE)) + (rlim_t{2} << 30);
  const rlimit l{limit, limit};
  ::setrlimit(RLIMIT_DATA, &l);
#endif
}

}  // namespace

int hdf5_time_limit(const std::string& path) {
  const auto megabytes = std::filesystem::file_size(path) >> 20;
  return 5 + static_cast<int>(std::min<uintmax_t>(megabytes / 20, 600));
}

void read_contained(const std::string& path, const std::string& library, const std::function<void()>& read,
                    int timeout_seconds) {
  int message[2];  // the child's error text, if it throws
  if (::pipe(message) != 0) throw std::runtime_error("\"" + path + "\": cannot create a pipe (" + std::strerror(errno) + ")");
  const pid_t parent = ::getpid();
  const pid_t child = ::fork();
  if (child < 0) {
    ::close(message[0]);
    ::close(message[1]);
    throw std::runtime_error("\"" + path + "\": cannot start a process to check the file (" + std::strerror(errno) + ")");
  }
  if (child == 0) {
    // The child dies with mlens: a library looping on corrupt bytes must not outlive a killed run (a
    // fuzzer's timeout once left one spinning for 40 minutes).
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(1);  // it died before the line above
    ::close(message[0]);
    const rlimit no_core{0, 0};  // a crash here is expected on corrupt files: no core dump
    ::setrlimit(RLIMIT_CORE, &no_core);
    limit_memory();
    // Die by the signal itself, not through a handler installed in the parent (a sanitizer's or
    // libFuzzer's would report the library's crash as its own and exit normally).
    for (const int signal : {SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL}) ::signal(signal, SIG_DFL);
    int code = 0;
    try {
      read();
    } catch (const std::exception& e) {
      const std::string what = e.what();
      for (std::size_t at = 0; at < what.size();) {
        const ssize_t n = ::write(message[1], what.data() + at, what.size() - at);
        if (n <= 0) break;
        at += static_cast<std::size_t>(n);
      }
      code = 1;
    } catch (...) {
      code = 1;
    }
    ::_exit(code);  // no destructors or atexit handlers of the parent's state
  }
  ::close(message[1]);

  std::string what;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_seconds);
  bool timed_out = false;
  for (;;) {  // read the message until the child closes its end (exit or death), or time runs out
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
    if (left <= 0) {
      timed_out = true;
      ::kill(child, SIGKILL);
      break;
    }
    pollfd p{message[0], POLLIN, 0};
    const int ready = ::poll(&p, 1, static_cast<int>(std::min<long long>(left, 1000)));
    if (ready < 0 && errno != EINTR) break;
    if (ready <= 0) continue;
    char buf[4096];
    const ssize_t n = ::read(message[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    what.append(buf, static_cast<std::size_t>(n));
  }
  ::close(message[0]);
  int status = 0;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  if (timed_out)
    throw std::runtime_error("\"" + path + "\": the " + library + " library did not finish reading it within " +
                             std::to_string(timeout_seconds) + " s (the file is corrupt or not what its name says)");
  if (WIFSIGNALED(status))
    throw std::runtime_error("\"" + path + "\": the file is corrupt: the " + library + " library crashed reading it (" +
                             ::strsignal(WTERMSIG(status)) + ")");
  if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
    throw std::runtime_error(what.empty() ? "\"" + path + "\": reading failed" : what);
}

}  // namespace mlens::io
