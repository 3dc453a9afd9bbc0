build/asan/src/util/sparse.o: src/util/sparse.c src/util/alloc.h \
  src/util/fault.h src/util/log.h include/ims/common.h \
  src/util/compiler.h src/util/sparse.h src/util/rcu.h

src/util/alloc.h:

src/util/fault.h:

src/util/log.h:

include/ims/common.h:

src/util/compiler.h:

src/util/sparse.h:

src/util/rcu.h:
