# Refuses a LibTorch include in the torch-free libraries (base, the Space
# core, search, the evaluator interface, experiments): directly (<torch/...>,
# <ATen/...>, <c10/...>) or through a project header that is not torch-free
# itself. Run by the build (target check_torch_free) before those libraries
# compile. Arguments: SOURCE_DIR, LISTS (a file setting FILES, to check, and
# ALLOWED, the torch-free project headers), STAMP (written when all pass).
include(${LISTS})
foreach(file ${FILES})
  file(STRINGS ${file} lines REGEX "^[ \t]*#[ \t]*include")
  file(RELATIVE_PATH rel ${SOURCE_DIR} ${file})
  foreach(line ${lines})
    if(line MATCHES "<(torch|ATen|c10)/")
      message(FATAL_ERROR "${rel}: '${line}' includes LibTorch, which a torch-free library may not")
    endif()
    if(line MATCHES "\"([^\"]+)\"")
      set(included ${CMAKE_MATCH_1})
      if(EXISTS ${SOURCE_DIR}/${included} AND NOT included MATCHES "\\.inc$")
        list(FIND ALLOWED ${SOURCE_DIR}/${included} at)
        if(at EQUAL -1)
          message(FATAL_ERROR "${rel}: '${line}' includes a header of a LibTorch library, "
                              "which a torch-free library may not")
        endif()
      endif()
    endif()
  endforeach()
endforeach()
file(WRITE ${STAMP} "ok\n")
