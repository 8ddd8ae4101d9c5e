# eventlens_find_root(): find_package(ROOT) that also works with ROOT from PyPI.
#
# Why this exists: the `root` wheel on PyPI (0.1a*, ROOT 6.40) ships a CMake
# package whose imported targets point at "<prefix>/mock_site_packages/ROOT/...",
# a folder that does not exist, so a plain find_package(ROOT) fails.  Instead of
# asking users to symlink folders inside their virtualenv, we copy ROOT's CMake
# files into the build tree with those paths rewritten to the real ROOT folder
# and load ROOT from the copy.  A normal ROOT install (conda, LCG, source build,
# ROOTSYS) is used untouched.
#
# Used both by eventlens' own CMakeLists.txt and by the installed
# EventLensConfig.cmake, so downstream C++ analyses get the same treatment.

function(_eventlens_python_root_dir out_var)
  # Locate the ROOT Python package without importing it (importing ROOT
  # starts the interpreter and prints the alpha-release warning).
  set(_py "")
  if(DEFINED Python_EXECUTABLE)
    set(_py "${Python_EXECUTABLE}")
  elseif(DEFINED ENV{VIRTUAL_ENV} AND EXISTS "$ENV{VIRTUAL_ENV}/bin/python")
    set(_py "$ENV{VIRTUAL_ENV}/bin/python")
  else()
    find_program(_py NAMES python3 python)
  endif()
  set(${out_var} "" PARENT_SCOPE)
  if(NOT _py)
    return()
  endif()
  execute_process(
    COMMAND "${_py}" -c
      "import importlib.util as u; s = u.find_spec('ROOT'); print(s.submodule_search_locations[0] if s else '')"
    OUTPUT_VARIABLE _dir OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET RESULT_VARIABLE _rc)
  if(_rc EQUAL 0 AND _dir AND EXISTS "${_dir}/cmake/ROOTConfig.cmake")
    set(${out_var} "${_dir}" PARENT_SCOPE)
  endif()
endfunction()

function(_eventlens_patch_root_wheel root_py out_dir)
  get_filename_component(site_packages "${root_py}" DIRECTORY)
  file(GLOB_RECURSE _files RELATIVE "${root_py}/cmake" "${root_py}/cmake/*.cmake")
  foreach(_f IN LISTS _files)
    file(READ "${root_py}/cmake/${_f}" _txt)
    string(REPLACE "\${_IMPORT_PREFIX}/mock_site_packages" "${site_packages}" _txt "${_txt}")
    string(REPLACE "\${_IMPORT_PREFIX}/include" "${root_py}/include" _txt "${_txt}")
    string(REPLACE "\${_thisdir}/../" "${root_py}/" _txt "${_txt}")
    file(CONFIGURE OUTPUT "${out_dir}/${_f}" CONTENT "${_txt}" @ONLY)
  endforeach()
endfunction()

# Optional arguments: folders that may hold the ROOT Python package (the
# installed EventLensConfig.cmake passes its own site-packages, where pip put
# ROOT beside eventlens).  Order of search: an explicit ROOT_DIR, those hints,
# $ROOTSYS, then the Python interpreter's ROOT package; a ROOT found there that
# is the PyPI wheel gets its CMake files patched, any other is used as it is.
macro(eventlens_find_root)
  if(NOT TARGET ROOT::Core)
    set(_eventlens_root_py "")
    set(_eventlens_mock "")
    if(NOT ROOT_DIR)
      set(_eventlens_candidates ${ARGN})
      if(DEFINED ENV{ROOTSYS})
        list(APPEND _eventlens_candidates "$ENV{ROOTSYS}/..")
      endif()
      foreach(_eventlens_hint IN LISTS _eventlens_candidates)
        if(NOT _eventlens_root_py AND EXISTS "${_eventlens_hint}/ROOT/cmake/ROOTConfig.cmake")
          get_filename_component(_eventlens_root_py "${_eventlens_hint}/ROOT" REALPATH)
        endif()
      endforeach()
      if(NOT _eventlens_root_py AND DEFINED ENV{ROOTSYS} AND EXISTS "$ENV{ROOTSYS}/cmake/ROOTConfig.cmake")
        set(ROOT_DIR "$ENV{ROOTSYS}/cmake")  # a regular ROOT installation
      elseif(NOT _eventlens_root_py)
        _eventlens_python_root_dir(_eventlens_root_py)
      endif()
      if(_eventlens_root_py)
        file(STRINGS "${_eventlens_root_py}/cmake/ROOTConfig-targets-release.cmake" _eventlens_mock
             REGEX "mock_site_packages" LIMIT_COUNT 1)
        if(_eventlens_mock)
          set(_eventlens_fixed "${CMAKE_BINARY_DIR}/eventlens-root-cmake")
          _eventlens_patch_root_wheel("${_eventlens_root_py}" "${_eventlens_fixed}")
          set(ROOT_DIR "${_eventlens_fixed}" CACHE PATH "ROOT CMake config (patched copy of the PyPI wheel's)" FORCE)
          set(EVENTLENS_ROOT_WHEEL "${_eventlens_root_py}" CACHE INTERNAL "ROOT wheel behind the patched ROOT_DIR")
          message(STATUS "eventlens: using ROOT from PyPI at ${_eventlens_root_py} (CMake paths rewritten in ${_eventlens_fixed})")
        else()
          set(ROOT_DIR "${_eventlens_root_py}/cmake")
        endif()
      endif()
    endif()
    # A re-run of CMake finds ROOT_DIR (our patched copy) in the cache: still the wheel.
    if(NOT _eventlens_mock AND EVENTLENS_ROOT_WHEEL AND ROOT_DIR STREQUAL "${CMAKE_BINARY_DIR}/eventlens-root-cmake")
      set(_eventlens_mock TRUE)
      set(_eventlens_root_py "${EVENTLENS_ROOT_WHEEL}")
    endif()
    find_package(ROOT 6.30 REQUIRED COMPONENTS Core ROOTVecOps)
    if(_eventlens_mock)
      # The wheel's libraries find their bundled dependencies (libpng, ...) in
      # site-packages/root.libs at run time via $ORIGIN; tell the linker too.
      get_filename_component(_eventlens_site "${_eventlens_root_py}" DIRECTORY)
      set_property(TARGET ROOT::Core APPEND PROPERTY INTERFACE_LINK_OPTIONS
                   "LINKER:-rpath-link,${_eventlens_site}/root.libs:${_eventlens_root_py}/lib")
    endif()
  endif()
endmacro()
