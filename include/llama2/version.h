/* llama2.cpp's version, for C and C++ (CMakeLists.txt's project VERSION says
 * the same; tests/project/version_test.cpp checks it).
 *
 * The rule: the C API (llama2.h) and the public C++ headers change only with
 * a version bump and a line in CHANGELOG.md. While the major version is 0, a
 * new minor version may break the API; a patch version never does. */
#ifndef LLAMA2_VERSION_H
#define LLAMA2_VERSION_H

#define LLAMA2_VERSION_MAJOR 0
#define LLAMA2_VERSION_MINOR 3
#define LLAMA2_VERSION_PATCH 0
#define LLAMA2_VERSION_STRING "0.3.0"

#endif /* LLAMA2_VERSION_H */
