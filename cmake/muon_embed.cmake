# muon_embed(OUT <generated .cc> FILES <name=path>... [HEADER dir/x.h] [NAMESPACE a::b]
#            [COMMENT text])
# Generates OUT at build time with src/plan/embed.cmake: the bytes of each file, compiled in
# under its name (NAMESPACE::internal::kEmbeddedFiles, declared in HEADER; default plan's).
# OUT is generated again when a file or the script changes; add it to a library's sources.
set(MUON_EMBED_SCRIPT ${PROJECT_SOURCE_DIR}/src/plan/embed.cmake)

function(muon_embed)
  cmake_parse_arguments(E "" "OUT;HEADER;NAMESPACE;COMMENT" "FILES" ${ARGN})
  set(paths "")
  foreach(entry IN LISTS E_FILES)
    string(FIND "${entry}" "=" eq)
    math(EXPR start "${eq} + 1")
    string(SUBSTRING "${entry}" ${start} -1 path)
    list(APPEND paths ${path})
  endforeach()
  set(options "")
  if(E_HEADER)
    list(APPEND options -DHEADER=${E_HEADER})
  endif()
  if(E_NAMESPACE)
    list(APPEND options -DNAMESPACE=${E_NAMESPACE})
  endif()
  string(REPLACE ";" "|" files_arg "${E_FILES}")
  add_custom_command(
    OUTPUT ${E_OUT}
    COMMAND ${CMAKE_COMMAND} -DOUT=${E_OUT} "-DFILES=${files_arg}" ${options}
            -P ${MUON_EMBED_SCRIPT}
    DEPENDS ${paths} ${MUON_EMBED_SCRIPT}
    COMMENT "${E_COMMENT}"
    VERBATIM)
endfunction()
