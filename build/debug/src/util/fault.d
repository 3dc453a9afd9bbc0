build/debug/src/util/fault.o: src/util/fault.c src/util/fault.h \
 src/util/log.h include/ims/common.h src/util/compiler.h
src/util/fault.h:
src/util/log.h:
include/ims/common.h:
src/util/compiler.h:
