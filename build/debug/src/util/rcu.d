build/debug/src/util/rcu.o: src/util/rcu.c src/util/rcu.h
src/util/rcu.h:
