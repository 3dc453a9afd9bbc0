build/asan/src/util/log.o: src/util/log.c src/util/log.h \
  include/ims/common.h src/util/compiler.h

src/util/log.h:

include/ims/common.h:

src/util/compiler.h:
