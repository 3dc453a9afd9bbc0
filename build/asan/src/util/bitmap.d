build/asan/src/util/bitmap.o: src/util/bitmap.c src/util/bitmap.h

src/util/bitmap.h:
