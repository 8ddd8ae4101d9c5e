# eventlens_find_onnxruntime(): the ONNX Runtime library (and, for building
# eventlens itself, its C/C++ API headers) as the imported target
# EventLens::onnxruntime.  Sets EventLens_ONNXRUNTIME_FOUND.
#
# Why this exists: the onnxruntime(-gpu) wheel that Python uses ships the
# library (onnxruntime/capi/libonnxruntime.so.1.31.1) but no headers and no
# libonnxruntime.so.1, the name (soname) that a program linked against it
# asks for.  So:
#   * headers: EVENTLENS_ONNXRUNTIME_INCLUDE_DIR, else the copy of Debian
#     trixie's libonnxruntime-dev (ORT 1.21) that .ci/bootstrap unpacks into
#     $EVENTLENS_ONNXRUNTIME_DEV or ~/.cache/eventlens/onnxruntime-dev
#     (python -m eventlens.debian onnxruntime-headers), else a system or conda
#     install.  ORT's C API is versioned: 1.21 headers run on the newer library.
#   * library: EVENTLENS_ONNXRUNTIME_LIBRARY, else onnxruntime/capi/libonnxruntime.so.*
#     under the HINTS folders (the installed config passes its site-packages), else
#     the Python onnxruntime package's (so C++ and Python run the same ORT), else a
#     system one.
#   * a symlink <build>/eventlens-onnxruntime/libonnxruntime.so.1 -> that
#     library, linked against and put in the build RPATH, so the soname
#     resolves at link and at run time.  Downstream projects (the installed
#     EventLensConfig.cmake calls this too) get their own symlink to the
#     onnxruntime installed beside them.
#
# Usage: eventlens_find_onnxruntime([HEADERS] [HINTS dir...])
#   HEADERS: the headers are required too; HINTS: site-packages-like folders to look
#   for onnxruntime/capi/libonnxruntime.so.* in first (files or folders that do not
#   exist are skipped, so a library path recorded at build time may be passed too).

function(_eventlens_python_onnxruntime_lib out_var)
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
  # Without importing onnxruntime (slow, and its GPU build prints CUDA errors).
  execute_process(
    COMMAND "${_py}" -c
      "import importlib.util as u, glob, os; s = u.find_spec('onnxruntime'); d = s and os.path.join(s.submodule_search_locations[0], 'capi'); print(sorted(glob.glob(os.path.join(d, 'libonnxruntime.so.*')))[-1] if d and glob.glob(os.path.join(d, 'libonnxruntime.so.*')) else '')"
    OUTPUT_VARIABLE _lib OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET RESULT_VARIABLE _rc)
  if(_rc EQUAL 0 AND _lib AND EXISTS "${_lib}")
    set(${out_var} "${_lib}" PARENT_SCOPE)
  endif()
endfunction()

macro(eventlens_find_onnxruntime)
  set(EventLens_ONNXRUNTIME_FOUND FALSE)
  set(_elort_need_headers FALSE)
  cmake_parse_arguments(_elort "HEADERS" "" "HINTS" ${ARGN})
  if(_elort_HEADERS)
    set(_elort_need_headers TRUE)
  endif()
  if(TARGET EventLens::onnxruntime)
    set(EventLens_ONNXRUNTIME_FOUND TRUE)
  else()
    # Headers (only eventlens' own build compiles against them).
    set(_elort_headers_ok TRUE)
    if(_elort_need_headers)
      set(_elort_dev "$ENV{EVENTLENS_ONNXRUNTIME_DEV}")
      if(NOT _elort_dev)
        if(DEFINED ENV{XDG_CACHE_HOME} AND NOT "$ENV{XDG_CACHE_HOME}" STREQUAL "")
          set(_elort_dev "$ENV{XDG_CACHE_HOME}/eventlens/onnxruntime-dev")
        else()
          set(_elort_dev "$ENV{HOME}/.cache/eventlens/onnxruntime-dev")
        endif()
      endif()
      find_path(EVENTLENS_ONNXRUNTIME_INCLUDE_DIR onnxruntime_cxx_api.h
        HINTS "${_elort_dev}/usr/include/onnxruntime"
        PATH_SUFFIXES onnxruntime onnxruntime/core/session
        DOC "ONNX Runtime C/C++ API headers (python -m eventlens.debian onnxruntime-headers)")
      if(NOT EVENTLENS_ONNXRUNTIME_INCLUDE_DIR)
        set(_elort_headers_ok FALSE)
        message(STATUS "eventlens: ONNX Runtime headers not found (looked in ${_elort_dev}/usr/include/onnxruntime "
                       "and the system; run 'python -m eventlens.debian onnxruntime-headers' or set "
                       "EVENTLENS_ONNXRUNTIME_INCLUDE_DIR)")
      endif()
    endif()
    # The library.
    if(NOT EVENTLENS_ONNXRUNTIME_LIBRARY)
      foreach(_elort_hint IN LISTS _elort_HINTS)
        if(NOT EVENTLENS_ONNXRUNTIME_LIBRARY)
          if(NOT IS_DIRECTORY "${_elort_hint}" AND EXISTS "${_elort_hint}")
            set(EVENTLENS_ONNXRUNTIME_LIBRARY "${_elort_hint}" CACHE FILEPATH "ONNX Runtime library")
          else()
            file(GLOB _elort_found "${_elort_hint}/onnxruntime/capi/libonnxruntime.so.*")
            if(_elort_found)
              list(SORT _elort_found)
              list(GET _elort_found -1 _elort_found)
              set(EVENTLENS_ONNXRUNTIME_LIBRARY "${_elort_found}" CACHE FILEPATH "ONNX Runtime library")
            endif()
          endif()
        endif()
      endforeach()
    endif()
    if(NOT EVENTLENS_ONNXRUNTIME_LIBRARY)
      _eventlens_python_onnxruntime_lib(_elort_py_lib)
      if(_elort_py_lib)
        set(EVENTLENS_ONNXRUNTIME_LIBRARY "${_elort_py_lib}" CACHE FILEPATH "ONNX Runtime library")
      else()
        find_library(EVENTLENS_ONNXRUNTIME_LIBRARY NAMES onnxruntime libonnxruntime.so.1
                     DOC "ONNX Runtime library")
      endif()
    endif()
    if(NOT EVENTLENS_ONNXRUNTIME_LIBRARY OR NOT EXISTS "${EVENTLENS_ONNXRUNTIME_LIBRARY}")
      message(STATUS "eventlens: ONNX Runtime library not found (no Python onnxruntime package, no "
                     "system libonnxruntime; set EVENTLENS_ONNXRUNTIME_LIBRARY)")
    elseif(_elort_headers_ok)
      # libonnxruntime.so.X.Y.Z has the soname libonnxruntime.so.X.
      get_filename_component(_elort_real "${EVENTLENS_ONNXRUNTIME_LIBRARY}" REALPATH)
      get_filename_component(_elort_file "${_elort_real}" NAME)
      set(_elort_soname "${_elort_file}")
      if(_elort_file MATCHES "^(libonnxruntime\\.so\\.[0-9]+)")
        set(_elort_soname "${CMAKE_MATCH_1}")
      endif()
      set(_elort_dir "${CMAKE_BINARY_DIR}/eventlens-onnxruntime")
      file(MAKE_DIRECTORY "${_elort_dir}")
      file(CREATE_LINK "${_elort_real}" "${_elort_dir}/${_elort_soname}" SYMBOLIC)
      add_library(EventLens::onnxruntime SHARED IMPORTED)
      set_target_properties(EventLens::onnxruntime PROPERTIES
        IMPORTED_LOCATION "${_elort_dir}/${_elort_soname}"
        IMPORTED_SONAME "${_elort_soname}")
      if(_elort_need_headers)
        set_target_properties(EventLens::onnxruntime PROPERTIES
          INTERFACE_INCLUDE_DIRECTORIES "${EVENTLENS_ONNXRUNTIME_INCLUDE_DIR}")
      endif()
      set(EventLens_ONNXRUNTIME_FOUND TRUE)
      set(EventLens_ONNXRUNTIME_LIBDIR "${_elort_dir}")
      # Programs linking EventLens::model get libonnxruntime.so.1 as their own NEEDED entry
      # (found through their RPATH, i.e. this symlink) even where the compiler passes
      # --as-needed (Debian's and Ubuntu's gcc do): then libeventlens_model.so need not
      # find ORT on its own, which it cannot once moved (e.g. installed from a wheel).
      set(CMAKE_LINK_LIBRARY_USING_EVENTLENS_NO_AS_NEEDED
          "LINKER:--push-state,--no-as-needed" "<LINK_ITEM>" "LINKER:--pop-state")
      set(CMAKE_LINK_LIBRARY_USING_EVENTLENS_NO_AS_NEEDED_SUPPORTED TRUE)
      message(STATUS "eventlens: ONNX Runtime ${_elort_real} (as ${_elort_dir}/${_elort_soname})")
    endif()
  endif()
endmacro()
