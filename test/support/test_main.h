/*
 * test_main: the main of every test binary. Runs the suite in Check's
 * normal mode (each test forked, so a crash or a sanitizer report fails
 * that test alone) and turns the verdict into the exit status.
 */
#ifndef GROUPCHAT_TEST_MAIN_H
#define GROUPCHAT_TEST_MAIN_H

#include <check.h>

/* Runs s; EXIT_SUCCESS if every test passed, else EXIT_FAILURE. */
int test_run(Suite *s);

#endif
