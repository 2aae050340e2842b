/* SKEIN_API marks the symbols libskein.so exports: the public C++ classes and
 * functions of this directory and the C API of skein_c.h. The library is
 * built with -fvisibility=hidden, so everything else stays internal. Usable
 * from C and C++. */
#ifndef SKEIN_EXPORT_H
#define SKEIN_EXPORT_H

#if defined(__GNUC__) || defined(__clang__)
#define SKEIN_API __attribute__((visibility("default")))
#else
#define SKEIN_API
#endif

#endif /* SKEIN_EXPORT_H */
