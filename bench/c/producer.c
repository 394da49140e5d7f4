// Benchmark load generator: waits for one byte on stdin (so the consumer can load its BPF filter
// for this pid first), then calls getppid() N times and exits. Prints calls/s on stderr.
// usage: producer N [CALLS_PER_SECOND]   (0 or absent: as fast as it can; else paced in 1 ms steps)
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 1000000;
	double rate = argc > 2 ? atof(argv[2]) : 0;
	char c;
	struct timespec a, b, t;

	if (read(0, &c, 1) != 1)
		return 1; /* the consumer went away before starting us */
	clock_gettime(CLOCK_MONOTONIC, &a);
	if (rate <= 0) {
		for (long i = 0; i < n; i++)
			syscall(SYS_getppid); /* not the libc wrapper: never cached */
	} else {
		/* Paced: before each step, spin until the clock says the step is due. */
		long step = (long)(rate / 1000) > 0 ? (long)(rate / 1000) : 1;
		for (long i = 0; i < n;) {
			double due = i / rate;
			do {
				clock_gettime(CLOCK_MONOTONIC, &t);
			} while ((t.tv_sec - a.tv_sec) + (t.tv_nsec - a.tv_nsec) / 1e9 < due);
			for (long j = 0; j < step && i < n; j++, i++)
				syscall(SYS_getppid);
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	double s = (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9;
	fprintf(stderr, "producer: %ld calls in %.3f s (%.0f calls/s)\n", n, s, n / s);
	return 0;
}
