// Running a program from a test: spawn it with arguments and stdin text
// (no shell, so nothing is re-parsed or expanded), collect everything it
// writes to stdout and stderr, and its exit status.
#pragma once

#include <string>
#include <vector>

namespace llama2::test {

struct ProcessResult {
  int exit_code = -1;      // the exit status, or -1 if it did not exit normally
  int term_signal = 0;     // the signal that ended it, 0 if it exited
  bool timed_out = false;  // killed by run_process after timeout_seconds
  std::string out;         // everything it wrote to stdout
  std::string err;         // everything it wrote to stderr
};

// Runs argv[0] (searched in PATH if it has no '/') with argv[1..], feeding
// `stdin_text` on its stdin and then closing it (EOF). Reads stdout and
// stderr concurrently, so a child that writes a lot never blocks. Kills the
// child with SIGKILL after timeout_seconds. Throws std::runtime_error if the
// program cannot be started (e.g. it does not exist).
ProcessResult run_process(const std::vector<std::string>& argv, const std::string& stdin_text = "",
                          double timeout_seconds = 300.0);

}  // namespace llama2::test
