// varavctl: the command-line client of varavd. See `varavctl --help`.
#include <iostream>
#include <string>
#include <vector>

#include "services/cli/commands.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  return varav::cli::RunCommandLine(args, std::cout, std::cerr);
}
