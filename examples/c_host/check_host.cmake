# Runs the command given after this script's name and checks what it did:
#   cmake [-DEXPECT_RC=N] [-DEXPECT_OUTPUT=REGEX] [-DPPM=PATH -DPPM_WIDTH=W -DPPM_HEIGHT=H]
#         -P check_host.cmake COMMAND [ARG...]
# EXPECT_RC: the exit status (default 0). EXPECT_OUTPUT: a regex stdout + stderr must match.
# PPM: a binary 8-bit RGB PPM the command must (re)write, WxH pixels.
if(NOT DEFINED EXPECT_RC)
  set(EXPECT_RC 0)
endif()

# CMAKE_ARGV<n>: cmake, the -D options, -P, this script, then the command.
set(command)
set(after_script FALSE)
math(EXPR last "${CMAKE_ARGC} - 1")
foreach(index RANGE 1 ${last})
  set(arg "${CMAKE_ARGV${index}}")
  if(after_script)
    list(APPEND command "${arg}")
  elseif(arg STREQUAL "-P")
    math(EXPR script_index "${index} + 1")
  elseif(DEFINED script_index AND index EQUAL script_index)
    set(after_script TRUE)
  endif()
endforeach()
if(NOT command)
  message(FATAL_ERROR "check_host.cmake: no command given")
endif()

if(PPM)
  file(REMOVE "${PPM}")  # a file left by an earlier run must not pass
endif()
execute_process(COMMAND ${command} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
message("${out}${err}")
if(NOT rc STREQUAL "${EXPECT_RC}")
  message(FATAL_ERROR "exit status ${rc}, expected ${EXPECT_RC}")
endif()
if(DEFINED EXPECT_OUTPUT AND NOT "${out}${err}" MATCHES "${EXPECT_OUTPUT}")
  message(FATAL_ERROR "the output does not match '${EXPECT_OUTPUT}'")
endif()
if(PPM)
  if(NOT EXISTS "${PPM}")
    message(FATAL_ERROR "${PPM} was not written")
  endif()
  set(header "P6\n${PPM_WIDTH} ${PPM_HEIGHT}\n255\n")
  string(LENGTH "${header}" header_bytes)
  file(READ "${PPM}" head LIMIT ${header_bytes})
  file(SIZE "${PPM}" size)
  math(EXPR expected_size "${header_bytes} + ${PPM_WIDTH} * ${PPM_HEIGHT} * 3")
  if(NOT head STREQUAL header OR NOT size EQUAL expected_size)
    message(FATAL_ERROR "${PPM}: ${size} bytes starting '${head}', expected a ${PPM_WIDTH}x${PPM_HEIGHT} "
                        "binary PPM of ${expected_size} bytes")
  endif()
endif()
