/*
 * Work off the event loop: a small pool of helper threads per worker.
 *
 * A handler hands CPU-heavy or blocking work (password hashing, ...) to
 * kb_work(); a helper thread runs it and queues it as done; an eventfd
 * registered with Kore's event loop wakes the worker, which runs each
 * job's completion on the loop thread, where it may touch the request
 * and the database pool again.  Only fn(arg) runs on a helper thread;
 * everything that touches a request stays on the loop thread, so the
 * request side needs no locks.
 */

#include <sys/types.h>
#include <sys/eventfd.h>
#include <sys/queue.h>
#include <sys/resource.h>
#include <sys/syscall.h>

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <kore/kore.h>
#include <kore/http.h>

#include "kb_server.h"
#include "kb_server_int.h"

#define WORK_QUEUE_MAX		256
#define WORK_EVENT_TYPE		101
#define KB_WORK_NICE		10

struct kb_job {
	kb_work_fn		 fn;
	kb_work_done		 done;
	void			*arg;
	struct kb_ctx		*ctx;		/* loop thread only */
	TAILQ_ENTRY(kb_job)	 qlist;		/* submit or done queue */
	TAILQ_ENTRY(kb_job)	 clist;		/* ctx->jobs */
};

TAILQ_HEAD(job_list, kb_job);

static struct {
	struct kore_event	 evt;		/* must be first */
	int			 efd;
	pthread_mutex_t		 lock;
	pthread_cond_t		 cond;
	struct job_list		 submit;
	struct job_list		 done;
	int			 queued;	/* submitted, not yet done */
	int			 nthreads;
	int			 stop;
	pthread_t		*threads;
} work;

static void	*work_thread(void *);
static void	 work_start(void);
static void	 work_event(void *, int);

void
kb_work_init(void)
{
	memset(&work, 0, sizeof(work));
	TAILQ_INIT(&work.submit);
	TAILQ_INIT(&work.done);
	pthread_mutex_init(&work.lock, NULL);
	pthread_cond_init(&work.cond, NULL);
	if ((work.efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1)
		fatal("kb_work_init: eventfd: %s", strerror(errno));
	work.evt.type = WORK_EVENT_TYPE;
	work.evt.handle = work_event;
	kore_platform_event_level_read(work.efd, &work);
}

/*
 * The threads start with the first job: a worker that never hashes stays
 * single-threaded, and glibc's single-thread fast paths (no locking in
 * malloc, no cancellation bookkeeping around recv/send) stay on.
 */
static void
work_start(void)
{
	int		i;

	work.nthreads = kb_config.work_threads;
	work.threads = kore_calloc(work.nthreads, sizeof(pthread_t));
	for (i = 0; i < work.nthreads; i++) {
		if (pthread_create(&work.threads[i], NULL, work_thread,
		    NULL) != 0)
			fatal("kb_work: pthread_create failed");
	}
}

void
kb_work_shutdown(void)
{
	int		i;

	pthread_mutex_lock(&work.lock);
	work.stop = 1;
	pthread_cond_broadcast(&work.cond);
	pthread_mutex_unlock(&work.lock);
	for (i = 0; i < work.nthreads; i++)
		pthread_join(work.threads[i], NULL);
}

int
kb_work(struct kb_ctx *ctx, kb_work_fn fn, kb_work_done done, void *arg)
{
	struct kb_job	*job;

	if (work.queued >= WORK_QUEUE_MAX)
		return (-1);
	if (work.threads == NULL)
		work_start();
	job = kore_calloc(1, sizeof(*job));
	job->fn = fn;
	job->done = done;
	job->arg = arg;
	job->ctx = ctx;
	if (ctx != NULL)
		TAILQ_INSERT_TAIL(&ctx->jobs, job, clist);

	pthread_mutex_lock(&work.lock);
	TAILQ_INSERT_TAIL(&work.submit, job, qlist);
	work.queued++;
	pthread_cond_signal(&work.cond);
	pthread_mutex_unlock(&work.lock);
	return (0);
}

int
kb_work_pending(struct kb_ctx *ctx)
{
	return (!TAILQ_EMPTY(&ctx->jobs));
}

/* The request is going away: its jobs finish, but call done(NULL, arg). */
void
kb_work_detach(struct kb_ctx *ctx)
{
	struct kb_job	*job;

	while ((job = TAILQ_FIRST(&ctx->jobs)) != NULL) {
		TAILQ_REMOVE(&ctx->jobs, job, clist);
		job->ctx = NULL;
	}
}

static void *
work_thread(void *unused)
{
	struct kb_job	*job;
	uint64_t	 one = 1;

	(void)unused;
	/*
	 * Below the event loop in the scheduler's eyes: when the cores are
	 * saturated with hashing, requests that need no hashing still get
	 * the CPU first (Linux applies nice per thread).
	 */
	(void)setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid),
	    KB_WORK_NICE);
	pthread_mutex_lock(&work.lock);
	for (;;) {
		while (!work.stop && TAILQ_EMPTY(&work.submit))
			pthread_cond_wait(&work.cond, &work.lock);
		if (work.stop)
			break;
		job = TAILQ_FIRST(&work.submit);
		TAILQ_REMOVE(&work.submit, job, qlist);
		pthread_mutex_unlock(&work.lock);

		job->fn(job->arg);

		pthread_mutex_lock(&work.lock);
		TAILQ_INSERT_TAIL(&work.done, job, qlist);
		/* A full counter still wakes the loop; nothing to retry. */
		(void)write(work.efd, &one, sizeof(one));
	}
	pthread_mutex_unlock(&work.lock);
	return (NULL);
}

/* The eventfd fired: run the completions on the loop thread. */
static void
work_event(void *arg, int error)
{
	struct job_list	 ready;
	struct kb_job	*job;
	struct kb_ctx	*ctx;
	uint64_t	 n;

	(void)arg;
	(void)error;
	work.evt.flags = 0;
	(void)read(work.efd, &n, sizeof(n));

	TAILQ_INIT(&ready);
	pthread_mutex_lock(&work.lock);
	TAILQ_CONCAT(&ready, &work.done, qlist);
	pthread_mutex_unlock(&work.lock);

	while ((job = TAILQ_FIRST(&ready)) != NULL) {
		TAILQ_REMOVE(&ready, job, qlist);
		work.queued--;
		ctx = job->ctx;
		if (ctx != NULL)
			TAILQ_REMOVE(&ctx->jobs, job, clist);
		job->done(ctx, job->arg);
		if (ctx != NULL)
			kb_ctx_settle(ctx);
		kore_free(job);
	}
}
