build/asan/src/util/alloc.o: src/util/alloc.c src/util/alloc.h \
  src/util/fault.h src/util/log.h include/ims/common.h \
  src/util/compiler.h

src/util/alloc.h:

src/util/fault.h:

src/util/log.h:

include/ims/common.h:

src/util/compiler.h:
