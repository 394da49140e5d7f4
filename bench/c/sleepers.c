// Starts N long-lived children for the agent memory benchmark. Usage: sleepers N SECS [exec]
//   without "exec": N forked children that pause() for SECS (forks only, one image);
//   with "exec":    N children that exec /bin/sleep SECS (each one an exec the agent records).
// Prints "ready <n>" on stdout once all are started, then waits for them. The children die with
// this process (PR_SET_PDEATHSIG), so killing it cleans everything up.
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 5000;
	const char *secs = argc > 2 ? argv[2] : "600";
	int do_exec = argc > 3 && strcmp(argv[3], "exec") == 0;
	long started = 0;

	for (long i = 0; i < n; i++) {
		pid_t pid = fork();
		if (pid < 0) {
			perror("fork");
			break;
		}
		if (pid == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the benchmark */
			if (do_exec) {
				char *args[] = {"/bin/sleep", (char *)secs, NULL};
				execv(args[0], args);
				_exit(127);
			}
			alarm((unsigned)atoi(secs));
			for (;;)
				pause();
		}
		started++;
	}
	printf("ready %ld\n", started);
	fflush(stdout);
	while (wait(NULL) > 0)
		;
	return started == n ? 0 : 1;
}
