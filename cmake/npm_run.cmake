# Runs a command with the npm packages pinned in WORK_DIR/package-lock.json installed in WORK_DIR.
# Used by ctest for test-time tools from the npm registry (the CEL conformance suite, buf):
#
#   cmake -DWORK_DIR=<dir with package.json + package-lock.json> -DRUN="node|script.js|arg"
#         [-DRUN_DIR=<working dir>] [-DNODE=..] [-DNPM=..] -P npm_run.cmake
#
# RUN separates its words with '|'; a first word `node` is the Node.js found here. Nothing is ever
# installed into the source tree, and `npm ci` runs only when the lock file changed since the last
# successful install, so repeated runs stay offline and fast.
cmake_minimum_required(VERSION 3.25)

foreach(var WORK_DIR RUN)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "npm_run.cmake: -D${var}=... is required")
  endif()
endforeach()

# Looked up at run time as well, so that `make deps` may install Node.js after configuring.
if(NOT NODE)
  find_program(NODE NAMES node nodejs)
endif()
if(NOT NPM)
  find_program(NPM NAMES npm)
endif()
if(NOT NODE OR NOT NPM)
  message(FATAL_ERROR "Node.js and npm are needed; run `make deps`.")
endif()

file(SHA256 "${WORK_DIR}/package-lock.json" lock_hash)
set(stamp "${WORK_DIR}/node_modules/.varav-lock-sha256")
set(installed_hash "")
if(EXISTS "${stamp}")
  file(READ "${stamp}" installed_hash)
  string(STRIP "${installed_hash}" installed_hash)
endif()
if(NOT installed_hash STREQUAL lock_hash)
  message(STATUS "npm ci in ${WORK_DIR}")
  execute_process(
    COMMAND "${NPM}" ci --prefix "${WORK_DIR}" --no-audit --no-fund --loglevel=error
            --no-update-notifier
    WORKING_DIRECTORY "${WORK_DIR}"
    RESULT_VARIABLE npm_result)
  if(NOT npm_result EQUAL 0)
    message(FATAL_ERROR "npm ci failed (${npm_result}); is the npm registry reachable?")
  endif()
  file(WRITE "${stamp}" "${lock_hash}\n")
endif()

string(REPLACE "|" ";" command "${RUN}")
list(GET command 0 program)
if(program STREQUAL "node")
  list(REMOVE_AT command 0)
  list(PREPEND command "${NODE}")
endif()
if(NOT RUN_DIR)
  set(RUN_DIR "${WORK_DIR}")
endif()
execute_process(COMMAND ${command} WORKING_DIRECTORY "${RUN_DIR}" RESULT_VARIABLE result)
if(NOT result EQUAL 0)
  message(FATAL_ERROR "${RUN} failed (${result})")
endif()
