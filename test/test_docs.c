/*
 * test_docs: the documentation keeps up with the binary. Runs the built
 * server's --help and --version and checks that every flag and every
 * GROUPCHAT_* variable it lists is documented in the man page (flags under
 * OPTIONS, variables under ENVIRONMENT) and in the README, that the man
 * page documents nothing the binary no longer knows, and that the man
 * page's header names the binary's version.
 *
 * The server is found beside this test: tests are build/VARIANT/test/NAME
 * and the server build/VARIANT/groupchat. The documents are found under
 * $GROUPCHAT_SRCDIR, or else the current directory (make test runs from
 * the repository root).
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "groupchat/core/buf.h"
#include "support/test_main.h"

/* A found name is shorter than this (the longest today has 25 bytes). */
#define NAME_MAX_LEN 64
#define NAMES_MAX 64

struct names {
	char v[NAMES_MAX][NAME_MAX_LEN];
	int n;
};

/* The server binary's path, from this test's own. */
static void
server_path(char *out, size_t len)
{
	char self[PATH_MAX];
	ssize_t n;

	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	ck_assert_msg(n > 0, "readlink /proc/self/exe: %s", strerror(errno));
	self[n] = '\0';
	/* build/VARIANT/test/test_docs -> build/VARIANT */
	snprintf(out, len, "%s/groupchat", dirname(dirname(self)));
}

/* The repository file rel, under GROUPCHAT_SRCDIR or the current directory. */
static void
doc_path(const char *rel, char *out, size_t len)
{
	const char *dir = getenv("GROUPCHAT_SRCDIR");

	snprintf(out, len, "%s/%s", dir != NULL && *dir != '\0' ? dir : ".", rel);
}

/* The environment without GROUPCHAT_* settings, so that a stray variable
 * cannot turn --help into an error; sanitizer options pass through. */
static char **
clean_environ(void)
{
	char **env;
	size_t n = 0, k = 0;

	while (environ[n] != NULL)
		n++;
	if ((env = calloc(n + 1, sizeof(*env))) == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (strncmp(environ[i], "GROUPCHAT_", 10) != 0)
			env[k++] = environ[i];
	return env;
}

/* Runs the server with one argument, stdin from /dev/null and stdout into
 * out. Returns its exit status, or -1 if it did not exit normally. */
static int
run_server(const char *arg, struct buf *out)
{
	char path[PATH_MAX];
	char chunk[4096];
	int fds[2], status, null;
	pid_t pid;
	ssize_t n;

	server_path(path, sizeof(path));
	ck_assert_msg(access(path, X_OK) == 0, "no server binary at %s: %s",
	    path, strerror(errno));
	ck_assert_int_eq(pipe(fds), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		char *argv[] = { path, (char *)arg, NULL };
		char **env = clean_environ();
		if (env == NULL || (null = open("/dev/null", O_RDONLY)) == -1 ||
		    dup2(null, 0) == -1 || dup2(fds[1], 1) == -1)
			_exit(126);
		close(null);
		close(fds[0]);
		close(fds[1]);
		execve(path, argv, env);
		_exit(127);
	}
	close(fds[1]);
	while ((n = read(fds[0], chunk, sizeof(chunk))) > 0)
		ck_assert_int_eq(buf_append(out, chunk, (size_t)n), 0);
	ck_assert_int_eq(n, 0);
	close(fds[0]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_int_eq(buf_append(out, "", 1), 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void
read_file(const char *rel, struct buf *out)
{
	char path[PATH_MAX], chunk[4096];
	size_t n;
	FILE *f;

	doc_path(rel, path, sizeof(path));
	f = fopen(path, "r");
	ck_assert_msg(f != NULL, "cannot open %s: %s (set GROUPCHAT_SRCDIR "
	    "to the repository root)", path, strerror(errno));
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		ck_assert_int_eq(buf_append(out, chunk, n), 0);
	ck_assert(!ferror(f));
	fclose(f);
	ck_assert_int_eq(buf_append(out, "", 1), 0);
}

/*
 * Roff source to the words a reader sees: "\-" and "\(hy" become '-',
 * font changes (\fB, \fI, \fR, \fP, \f(CW) and "\&" disappear. Other
 * escapes are kept as they are; names never contain them.
 */
static void
unroff(struct buf *b)
{
	char *s = (char *)b->data, *d = s;

	while (*s != '\0') {
		if (s[0] != '\\') {
			*d++ = *s++;
		} else if (s[1] == '-') {
			*d++ = '-';
			s += 2;
		} else if (strncmp(s, "\\(hy", 4) == 0) {
			*d++ = '-';
			s += 4;
		} else if (s[1] == '&') {
			s += 2;
		} else if (s[1] == 'f' && s[2] == '(' && s[3] != '\0' && s[4] != '\0') {
			s += 5;
		} else if (s[1] == 'f' && s[2] != '\0') {
			s += 3;
		} else {
			*d++ = *s++;
		}
	}
	*d = '\0';
	b->len = (size_t)(d - (char *)b->data) + 1;
}

static int
flag_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

static int
env_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

static void
names_add(struct names *ns, const char *s, size_t len)
{
	ck_assert_msg(len < NAME_MAX_LEN, "name too long: %.*s", (int)len, s);
	for (int i = 0; i < ns->n; i++)
		if (strlen(ns->v[i]) == len && strncmp(ns->v[i], s, len) == 0)
			return;
	ck_assert_int_lt(ns->n, NAMES_MAX);
	memcpy(ns->v[ns->n], s, len);
	ns->v[ns->n][len] = '\0';
	ns->n++;
}

/* Every "--name" that opens a line (after blanks, or after a font macro
 * such as ".B "): how --help lists its flags and how the man page tags
 * them under .TP, leaving out mentions in running text such as
 * "[--flag VALUE]". */
static void
scan_flags(const char *text, struct names *flags)
{
	const char *p = text;
	size_t n;

	while (*p != '\0') {
		if (*p == '.')
			p += strcspn(p, " \n");
		while (*p == ' ' || *p == '\t')
			p++;
		if (p[0] == '-' && p[1] == '-' && p[2] >= 'a' && p[2] <= 'z') {
			for (n = 2; flag_char(p[n]); n++)
				;
			names_add(flags, p, n);
		}
		if ((p = strchr(p, '\n')) == NULL)
			break;
		p++;
	}
}

/* Every GROUPCHAT_NAME in text. */
static void
scan_envs(const char *text, struct names *envs)
{
	const char *p;
	size_t n;

	for (p = text; (p = strstr(p, "GROUPCHAT_")) != NULL; p++) {
		if (p > text && env_char(p[-1]))
			continue;
		for (n = 10; env_char(p[n]); n++)
			;
		if (n > 10)
			names_add(envs, p, n);
	}
}

/* The text of section title in a man page: from ".SH TITLE" to the next
 * ".SH" or the end. NUL-terminated copy in out. */
static void
man_section(const char *man, const char *title, struct buf *out)
{
	char head[64];
	const char *start, *end;

	snprintf(head, sizeof(head), "\n.SH %s\n", title);
	start = strstr(man, head);
	ck_assert_msg(start != NULL, "groupchat.1 has no %s section", title);
	start += strlen(head);
	end = strstr(start, "\n.SH ");
	if (end == NULL)
		end = start + strlen(start);
	ck_assert_int_eq(buf_append(out, start, (size_t)(end - start)), 0);
	ck_assert_int_eq(buf_append(out, "", 1), 0);
}

/* 1 if name occurs in text as a whole word of its kind. */
static int
has_name(const char *text, const char *name, int (*word)(char))
{
	size_t len = strlen(name);
	const char *p;

	for (p = text; (p = strstr(p, name)) != NULL; p++)
		if ((p == text || !word(p[-1])) && !word(p[len]))
			return 1;
	return 0;
}

static void
help_names(struct names *flags, struct names *envs)
{
	struct buf help;

	buf_init(&help, 0);
	ck_assert_int_eq(run_server("--help", &help), 0);
	scan_flags((const char *)help.data, flags);
	scan_envs((const char *)help.data, envs);
	buf_free(&help);
	/* The help is not empty, nor a different program's. */
	ck_assert_int_ge(flags->n, 5);
	ck_assert_int_ge(envs->n, 3);
}

static void
man_text(struct buf *man)
{
	buf_init(man, 0);
	read_file("docs/groupchat.1", man);
	unroff(man);
}

/* Each flag has its own entry (a .TP tag) under OPTIONS, not a mention. */
START_TEST(test_help_flags_in_man)
{
	struct names flags = { .n = 0 }, envs = { .n = 0 }, tags = { .n = 0 };
	struct buf man, opts;
	int i, j, found, have_help = 0;

	help_names(&flags, &envs);
	for (i = 0; i < flags.n; i++)
		have_help |= strcmp(flags.v[i], "--help") == 0;
	ck_assert_msg(have_help, "--help does not list --help itself");
	man_text(&man);
	buf_init(&opts, 0);
	man_section((const char *)man.data, "OPTIONS", &opts);
	scan_flags((const char *)opts.data, &tags);
	for (i = 0; i < flags.n; i++) {
		for (found = 0, j = 0; j < tags.n && !found; j++)
			found = strcmp(flags.v[i], tags.v[j]) == 0;
		ck_assert_msg(found, "%s is in --help but has no entry under "
		    "OPTIONS in docs/groupchat.1", flags.v[i]);
	}
	buf_free(&opts);
	buf_free(&man);
}
END_TEST

START_TEST(test_help_env_in_man)
{
	struct names flags = { .n = 0 }, envs = { .n = 0 };
	struct buf man, env;
	int i;

	help_names(&flags, &envs);
	man_text(&man);
	buf_init(&env, 0);
	man_section((const char *)man.data, "ENVIRONMENT", &env);
	for (i = 0; i < envs.n; i++)
		ck_assert_msg(has_name((const char *)env.data, envs.v[i], env_char),
		    "%s is in --help but not under ENVIRONMENT in docs/groupchat.1",
		    envs.v[i]);
	buf_free(&env);
	buf_free(&man);
}
END_TEST

/* The man page documents nothing the binary has dropped. */
START_TEST(test_man_names_in_help)
{
	struct names flags = { .n = 0 }, envs = { .n = 0 };
	struct names mflags = { .n = 0 }, menvs = { .n = 0 };
	struct buf man, opts, env;
	int i, j, found;

	help_names(&flags, &envs);
	man_text(&man);
	buf_init(&opts, 0);
	buf_init(&env, 0);
	man_section((const char *)man.data, "OPTIONS", &opts);
	man_section((const char *)man.data, "ENVIRONMENT", &env);
	scan_flags((const char *)opts.data, &mflags);
	scan_envs((const char *)opts.data, &menvs);
	scan_envs((const char *)env.data, &menvs);
	ck_assert_int_gt(mflags.n, 0);
	ck_assert_int_gt(menvs.n, 0);
	for (i = 0; i < mflags.n; i++) {
		for (found = 0, j = 0; j < flags.n && !found; j++)
			found = strcmp(mflags.v[i], flags.v[j]) == 0;
		ck_assert_msg(found, "docs/groupchat.1 documents %s, which "
		    "--help does not list", mflags.v[i]);
	}
	for (i = 0; i < menvs.n; i++) {
		for (found = 0, j = 0; j < envs.n && !found; j++)
			found = strcmp(menvs.v[i], envs.v[j]) == 0;
		ck_assert_msg(found, "docs/groupchat.1 documents %s, which "
		    "--help does not list", menvs.v[i]);
	}
	buf_free(&env);
	buf_free(&opts);
	buf_free(&man);
}
END_TEST

START_TEST(test_help_flags_in_readme)
{
	struct names flags = { .n = 0 }, envs = { .n = 0 };
	struct buf readme;
	int i;

	help_names(&flags, &envs);
	buf_init(&readme, 0);
	read_file("README.md", &readme);
	for (i = 0; i < flags.n; i++)
		ck_assert_msg(has_name((const char *)readme.data, flags.v[i], flag_char),
		    "%s is in --help but not in README.md", flags.v[i]);
	buf_free(&readme);
}
END_TEST

/* .TH's source field reads "groupchat VERSION", as --version prints it. */
START_TEST(test_man_version)
{
	struct buf version, man;
	char *nl, *th, *eol;

	buf_init(&version, 0);
	ck_assert_int_eq(run_server("--version", &version), 0);
	ck_assert_msg(strncmp((const char *)version.data, "groupchat ", 10) == 0,
	    "--version printed \"%s\"", (const char *)version.data);
	if ((nl = strchr((char *)version.data, '\n')) != NULL)
		*nl = '\0';
	ck_assert_uint_gt(strlen((const char *)version.data), 10);

	man_text(&man);
	th = strstr((char *)man.data, ".TH ");
	ck_assert_msg(th != NULL, "docs/groupchat.1 has no .TH line");
	if ((eol = strchr(th, '\n')) != NULL)
		*eol = '\0';
	ck_assert_msg(strstr(th, (const char *)version.data) != NULL,
	    "docs/groupchat.1 says \"%s\", the binary \"%s\"", th,
	    (const char *)version.data);
	buf_free(&man);
	buf_free(&version);
}
END_TEST

/* A bad flag exits 2, as the man page's EXIT STATUS says. */
START_TEST(test_bad_flag_status)
{
	struct buf out;

	buf_init(&out, 0);
	ck_assert_int_eq(run_server("--no-such-flag", &out), 2);
	buf_free(&out);
}
END_TEST

static Suite *
docs_suite(void)
{
	Suite *s = suite_create("docs");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_help_flags_in_man);
	tcase_add_test(tc, test_help_env_in_man);
	tcase_add_test(tc, test_man_names_in_help);
	tcase_add_test(tc, test_help_flags_in_readme);
	tcase_add_test(tc, test_man_version);
	tcase_add_test(tc, test_bad_flag_status);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return test_run(docs_suite());
}
