// What the benchmarks print about the machine they ran on, so that a figure can be traced to its
// host: the same commit measures up to twice as fast on one 2-core virtual machine as on another
// (bench/README-store.md lists both kinds seen).
//
//   std::printf("%s\n", MachineSummary().c_str());  // "2 CPUs, Intel(R) Xeon(R) Processor"
//   StealMeter steal;
//   ...measure...
//   std::printf("CPU steal %s\n", steal.Text().c_str());  // "3.2%", or "unknown"
//
// On a virtual machine the hypervisor may run other guests on "our" CPUs; the time it takes
// (steal) is lost to the benchmark without showing in its own CPU time, and it is what makes the
// same run swing between hosts and hours. Printing it next to a figure tells a slow run on a busy
// host from a slow commit.
//
// Thread safety: CpuModel and MachineSummary are pure functions (they read /proc); a StealMeter
// may be read from any thread.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"

namespace varav::bench {

// The first "model name" of /proc/cpuinfo; "unknown" when there is none.
inline std::string CpuModel() {
  FILE* f = std::fopen("/proc/cpuinfo", "r");
  if (f == nullptr) return "unknown";
  char line[512];
  std::string model = "unknown";
  while (std::fgets(line, sizeof line, f) != nullptr) {
    absl::string_view l(line);
    if (absl::StartsWith(l, "model name")) {
      const size_t colon = l.find(':');
      if (colon != absl::string_view::npos) {
        model = std::string(absl::StripAsciiWhitespace(l.substr(colon + 1)));
      }
      break;
    }
  }
  std::fclose(f);
  return model;
}

// "<n> CPUs, <model>".
inline std::string MachineSummary() {
  return absl::StrCat(std::thread::hardware_concurrency(), " CPUs, ", CpuModel());
}

// The machine-wide share of CPU time stolen by the hypervisor since construction, from the
// "cpu" line of /proc/stat.
class StealMeter {
 public:
  StealMeter() : valid_(Read(total_, steal_)) {}

  // Percent of all CPUs' time stolen since construction; -1 when /proc/stat was unreadable or no
  // time has passed.
  double Percent() const {
    uint64_t total = 0;
    uint64_t steal = 0;
    if (!valid_ || !Read(total, steal) || total <= total_ || steal < steal_) return -1;
    return 100.0 * static_cast<double>(steal - steal_) / static_cast<double>(total - total_);
  }

  // Percent() as printed: "3.2%", or "unknown".
  std::string Text() const {
    const double percent = Percent();
    return percent < 0 ? "unknown" : absl::StrFormat("%.1f%%", percent);
  }

 private:
  // Sums user, nice, system, idle, iowait, irq, softirq and steal (guest time is already part of
  // user). False when the line cannot be read.
  static bool Read(uint64_t& total, uint64_t& steal) {
    FILE* f = std::fopen("/proc/stat", "r");
    if (f == nullptr) return false;
    unsigned long long v[8] = {};
    const int n = std::fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2],
                              &v[3], &v[4], &v[5], &v[6], &v[7]);
    std::fclose(f);
    if (n != 8) return false;
    total = 0;
    for (unsigned long long x : v) total += x;
    steal = v[7];
    return true;
  }

  uint64_t total_ = 0;
  uint64_t steal_ = 0;
  bool valid_;
};

}  // namespace varav::bench
