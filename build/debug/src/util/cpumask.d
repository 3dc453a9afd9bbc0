build/debug/src/util/cpumask.o: src/util/cpumask.c src/util/alloc.h \
 src/util/fault.h src/util/cpumask.h include/ims/cpumask.h \
 include/ims/common.h src/util/bitmap.h src/util/log.h \
 src/util/compiler.h
src/util/alloc.h:
src/util/fault.h:
src/util/cpumask.h:
include/ims/cpumask.h:
include/ims/common.h:
src/util/bitmap.h:
src/util/log.h:
src/util/compiler.h:
