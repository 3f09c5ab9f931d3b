# Test fixture: installs the pinned npm packages into the build tree and exports the CEL
# conformance suite to JSON. Run by ctest as
#
#   cmake -DWORK_DIR=<build>/tests/conformance/node -DOUT=<json> [-DNODE=..] [-DNPM=..] -P export_suite.cmake
#
# WORK_DIR already holds package.json, package-lock.json and export.js (copied at configure time);
# nothing is ever installed into the source tree. `npm ci` runs only when the lock file changed
# since the last successful install, so repeated test runs stay offline and fast.
cmake_minimum_required(VERSION 3.25)

foreach(var WORK_DIR OUT)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "export_suite.cmake: -D${var}=... is required")
  endif()
endforeach()

# Found at test time as well as at configure time, so that `make deps` may install Node.js after
# the build tree was configured.
if(NOT NODE)
  find_program(NODE NAMES node nodejs)
endif()
if(NOT NPM)
  find_program(NPM NAMES npm)
endif()
if(NOT NODE OR NOT NPM)
  message(FATAL_ERROR "Node.js and npm are needed to export the CEL conformance suite; "
                      "run `make deps` (Debian packages nodejs and npm).")
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
else()
  message(STATUS "node_modules matches package-lock.json; skipping npm ci")
endif()

execute_process(
  COMMAND "${NODE}" "${WORK_DIR}/export.js" "${OUT}"
  WORKING_DIRECTORY "${WORK_DIR}"
  RESULT_VARIABLE node_result)
if(NOT node_result EQUAL 0)
  message(FATAL_ERROR "exporting the conformance suite failed (${node_result})")
endif()
