/*
 * Unit tests of daemon/notify.c: $NOTIFY_SOCKET's addresses (paths,
 * abstract names, what does not fit), $WATCHDOG_USEC and $WATCHDOG_PID,
 * and the datagrams as a service manager's socket receives them.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "notify.h"
#include "testutil.h"
#include "xmalloc.h"

#define SUN_OFF	offsetof(struct sockaddr_un, sun_path)

/* A string of N copies of C after PREFIX. */
static char *
long_name(const char *prefix, size_t n, char c)
{
	size_t	 p = strlen(prefix);
	char	*s = xmalloc(p + n + 1);

	memcpy(s, prefix, p);
	memset(s + p, c, n);
	s[p + n] = '\0';
	return (s);
}

static void
test_address(void **state)
{
	struct sockaddr_un	 sun;
	socklen_t		 len = 0;

	(void)state;
	assert_int_equal(notify_address(NULL, &sun, &len), 0);
	assert_int_equal(notify_address("", &sun, &len), -EINVAL);
	assert_int_equal(notify_address("run/notify", &sun, &len),
	    -EAFNOSUPPORT);
	assert_int_equal(notify_address("vsock:2:1234", &sun, &len),
	    -EAFNOSUPPORT);

	assert_int_equal(notify_address("/run/systemd/notify", &sun, &len), 1);
	assert_int_equal(sun.sun_family, AF_UNIX);
	assert_string_equal(sun.sun_path, "/run/systemd/notify");
	assert_int_equal(len, SUN_OFF + strlen("/run/systemd/notify") + 1);

	/* Abstract: a leading NUL, no terminating one, counted in len. */
	assert_int_equal(notify_address("@/org/freedesktop/systemd1/notify",
	    &sun, &len), 1);
	assert_int_equal(sun.sun_path[0], '\0');
	assert_memory_equal(sun.sun_path + 1,
	    "/org/freedesktop/systemd1/notify",
	    strlen("/org/freedesktop/systemd1/notify"));
	assert_int_equal(len, SUN_OFF + 1 +
	    strlen("/org/freedesktop/systemd1/notify"));
	assert_int_equal(notify_address("@", &sun, &len), -EINVAL);
}

static void
test_address_too_long(void **state)
{
	struct sockaddr_un	 sun;
	socklen_t		 len;
	size_t			 max = sizeof sun.sun_path;
	char			*s;

	(void)state;
	/* A path and its NUL fill sun_path at most. */
	s = long_name("/", max - 2, 'p');
	assert_int_equal(notify_address(s, &sun, &len), 1);
	assert_int_equal(len, SUN_OFF + max);
	free(s);
	s = long_name("/", max - 1, 'p');
	assert_int_equal(notify_address(s, &sun, &len), -EINVAL);
	free(s);
	/* An abstract name has no NUL but its leading one: max - 1 bytes. */
	s = long_name("@", max - 1, 'a');
	assert_int_equal(notify_address(s, &sun, &len), 1);
	assert_int_equal(len, SUN_OFF + max);
	free(s);
	s = long_name("@", max, 'a');
	assert_int_equal(notify_address(s, &sun, &len), -EINVAL);
	free(s);
}

static void
test_watchdog_usec(void **state)
{
	static const char *const	 bad[] = { "", "abc", "-5", "+5", " 5",
	    "5 ", "5s", "0x10", "0", "18446744073709551615",
	    "99999999999999999999999" };
	uint64_t			 usec = 7;
	size_t				 i;

	(void)state;
	/* Unset: no watchdog, and no error. */
	assert_int_equal(notify_watchdog_parse(NULL, NULL, 42, &usec), 0);
	assert_int_equal(usec, 0);
	assert_int_equal(notify_watchdog_parse("400000", NULL, 42, &usec), 1);
	assert_int_equal(usec, 400000);
	assert_int_equal(notify_watchdog_parse("18446744073709551614", NULL,
	    42, &usec), 1);
	assert_true(usec == 18446744073709551614ULL);
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		usec = 7;
		assert_int_equal(notify_watchdog_parse(bad[i], NULL, 42,
		    &usec), -EINVAL);
		assert_int_equal(usec, 0);
	}
}

static void
test_watchdog_pid(void **state)
{
	static const char *const	 bad[] = { "", "0", "-42", "x", "42x",
	    "4294967338", "99999999999999999999" };
	uint64_t			 usec;
	size_t				 i;

	(void)state;
	assert_int_equal(notify_watchdog_parse("400000", "42", 42, &usec), 1);
	assert_int_equal(usec, 400000);
	/* Meant for another process: an environment inherited from it. */
	assert_int_equal(notify_watchdog_parse("400000", "43", 42, &usec), 0);
	assert_int_equal(usec, 0);
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(notify_watchdog_parse("400000", bad[i], 42,
		    &usec), -EINVAL);
	/* No WATCHDOG_USEC: WATCHDOG_PID alone says nothing. */
	assert_int_equal(notify_watchdog_parse(NULL, "42", 42, &usec), 0);
}

static void
test_watchdog_env(void **state)
{
	char		pid[32];
	uint64_t	usec;

	(void)state;
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
	assert_int_equal(notify_watchdog(&usec), 0);
	setenv("WATCHDOG_USEC", "2000000", 1);
	assert_int_equal(notify_watchdog(&usec), 1);
	assert_int_equal(usec, 2000000);
	snprintf(pid, sizeof pid, "%ld", (long)getpid());
	setenv("WATCHDOG_PID", pid, 1);
	assert_int_equal(notify_watchdog(&usec), 1);
	snprintf(pid, sizeof pid, "%ld", (long)getpid() + 1);
	setenv("WATCHDOG_PID", pid, 1);
	assert_int_equal(notify_watchdog(&usec), 0);
	setenv("WATCHDOG_USEC", "soon", 1);
	unsetenv("WATCHDOG_PID");
	assert_int_equal(notify_watchdog(&usec), -EINVAL);
	unsetenv("WATCHDOG_USEC");
}

/* A datagram socket bound at ADDR, as the service manager's is. */
static int
listener(const char *addr)
{
	struct sockaddr_un	sun;
	socklen_t		len;
	int			fd;

	assert_int_equal(notify_address(addr, &sun, &len), 1);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, len), 0);
	return (fd);
}

static void
received(int fd, const char *want)
{
	char	buf[512];
	ssize_t	n;

	n = recv(fd, buf, sizeof buf - 1, MSG_DONTWAIT);
	assert_true(n >= 0);
	buf[n] = '\0';
	assert_string_equal(buf, want);
}

static void
test_send(void **state)
{
	char	*dir = tu_mkdtemp(), *path, *abs;
	int	 fd;

	(void)state;
	/* Outside systemd: nothing to do, not an error. */
	unsetenv("NOTIFY_SOCKET");
	assert_int_equal(notify_send("READY=1"), 0);
	assert_int_equal(notify_sendf("STATUS=%d", 1), 0);

	path = xasprintf("%s/notify.sock", dir);
	fd = listener(path);
	setenv("NOTIFY_SOCKET", path, 1);
	assert_int_equal(notify_send("READY=1"), 1);
	received(fd, "READY=1");
	assert_int_equal(notify_sendf("STATUS=%zu repositories", (size_t)3), 1);
	received(fd, "STATUS=3 repositories");
	assert_int_equal(notify_send("RELOADING=1\nMONOTONIC_USEC=1"), 1);
	received(fd, "RELOADING=1\nMONOTONIC_USEC=1");
	close(fd);
	/* Nobody listening any more: an error the caller may ignore. */
	assert_true(notify_send("WATCHDOG=1") < 0);

	/* The abstract namespace, as systemd's own manager used to bind. */
	abs = xasprintf("@cloudsphere-test-notify/%ld", (long)getpid());
	fd = listener(abs);
	setenv("NOTIFY_SOCKET", abs, 1);
	assert_int_equal(notify_send("WATCHDOG=1"), 1);
	received(fd, "WATCHDOG=1");
	close(fd);

	setenv("NOTIFY_SOCKET", "notify.sock", 1);
	assert_int_equal(notify_send("READY=1"), -EAFNOSUPPORT);
	unsetenv("NOTIFY_SOCKET");
	free(abs);
	free(path);
	tu_rm_rf(dir);
	free(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_address),
		cmocka_unit_test(test_address_too_long),
		cmocka_unit_test(test_watchdog_usec),
		cmocka_unit_test(test_watchdog_pid),
		cmocka_unit_test(test_watchdog_env),
		cmocka_unit_test(test_send),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
