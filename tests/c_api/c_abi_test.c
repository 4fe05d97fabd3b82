/* c_abi_test.c: every function of kimera_c.h through libkimera.so, from C,
 * with its error paths: NULL handles and pointers, bad JSON, bad identities
 * naming the field, absent ids, dual-write off and on, store_many's
 * all-or-nothing validation, scan pages, and the model against a reference
 * entropy from tests/data/reference_sample.jsonl.
 *
 * Every call's error string is checked (set exactly when the call fails)
 * and freed with kimera_free(); under valgrind (the c_abi_valgrind test) a
 * string the library leaks or a double free fails the run.
 *
 * Databases live under a mkdtemp() folder, removed at the end. */
#define _XOPEN_SOURCE 700

#include <ftw.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kimera/kimera_c.h"

/* ---- A tiny harness ----------------------------------------------------- */

static int checks_run = 0;
static char* error_text = NULL; /* The last call's error; freed before the next call. */
static char error_sentinel;     /* What *error holds on entry: the call must overwrite it. */

#define CHECK(cond)                                                            \
  do {                                                                         \
    ++checks_run;                                                              \
    if (!(cond)) {                                                             \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      if (error_text != NULL && error_text != &error_sentinel) {               \
        fprintf(stderr, "  last error: %s\n", error_text);                     \
      }                                                                        \
      exit(1);                                                                 \
    }                                                                          \
  } while (0)

static void free_error(void) {
  if (error_text != &error_sentinel) kimera_free(error_text);
  error_text = &error_sentinel;
}

static void expect_status(const char* file, int line, const char* call, kimera_status got,
                          kimera_status want) {
  ++checks_run;
  if (got != want) {
    fprintf(stderr, "%s:%d: %s\n  returned %s, want %s; error: %s\n", file, line, call,
            kimera_status_name(got), kimera_status_name(want),
            error_text == NULL || error_text == &error_sentinel ? "(none)" : error_text);
    exit(1);
  }
  if (error_text == &error_sentinel) {
    fprintf(stderr, "%s:%d: %s\n  left *error untouched\n", file, line, call);
    exit(1);
  }
  if ((want == KIMERA_OK) != (error_text == NULL)) {
    fprintf(stderr, "%s:%d: %s\n  %s\n", file, line, call,
            want == KIMERA_OK ? "set an error on success" : "gave no error message");
    exit(1);
  }
}

/* Runs `call` (which passes &error_text as its error) and checks its status. */
#define EXPECT(want, call)                                     \
  do {                                                         \
    free_error();                                              \
    kimera_status status_ = (call);                            \
    expect_status(__FILE__, __LINE__, #call, status_, (want)); \
  } while (0)

/* The last error mentions `text`. */
#define ERROR_HAS(text) CHECK(error_text != NULL && strstr(error_text, (text)) != NULL)

static int contains(const char* haystack, const char* needle) {
  return haystack != NULL && strstr(haystack, needle) != NULL;
}

static size_t occurrences(const char* haystack, const char* needle) {
  size_t n = 0;
  for (const char* p = haystack; p != NULL && (p = strstr(p, needle)) != NULL;
       p += strlen(needle)) {
    ++n;
  }
  return n;
}

/* The number after `"key": ` (identities) or `"key":` (reports) in `json`. */
static double number_of(const char* json, const char* key) {
  char pattern[64];
  snprintf(pattern, sizeof pattern, "\"%s\":", key);
  const char* at = strstr(json, pattern);
  CHECK(at != NULL);
  return strtod(at + strlen(pattern), NULL);
}

static int close_to(double a, double b) { return fabs(a - b) <= 1e-9 * fmax(fabs(a), fabs(b)); }

static int remove_entry(const char* path, const struct stat* sb, int flag, struct FTW* ftw) {
  (void)sb;
  (void)flag;
  (void)ftw;
  return remove(path);
}

static char root[512];

/* Removes the databases however the run ends. */
static void remove_root(void) {
  if (root[0] != '\0') nftw(root, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void path_in_root(char* out, size_t size, const char* name) {
  snprintf(out, size, "%s/%s", root, name);
}

/* A store at root/`db` with `extra` TOML appended, opened from text. */
static kimera_store* open_text(const char* db, const char* extra, unsigned flags) {
  char config[2048];
  snprintf(config, sizeof config,
           "[storage]\npath = \"%s/%s\"\n[metrics]\nport = 0\n"
           "[entropy]\nk = 0.2\nmax_future_seconds = 1099511627776\n%s",
           root, db, extra);
  kimera_store* store = NULL;
  EXPECT(KIMERA_OK, kimera_open(config, KIMERA_CONFIG_TEXT, flags, &store, &error_text));
  CHECK(store != NULL);
  return store;
}

/* ---- Data ---------------------------------------------------------------- */

/* geoid_00008 of tests/data/reference_sample.jsonl and its expected values
 * (base_tau 1,209,600 s, k 0.1). */
static const char kReference[] =
    "{\"id\": \"geoid_00008\", \"identity_type\": \"geoid\", \"raw\": \"x alpha \\u6771\\u4eac "
    "lattice gamma\", \"echo\": \"x alpha \\u6771\\u4eac lattice gamma\", \"lang_axis\": \"fr\", "
    "\"tags\": [], \"weight\": 1.0, \"related_ids\": [], \"meta\": {\"terms\": [{\"term\": "
    "\"x0\", \"role\": \"r\"}, {\"term\": \"beta1\", \"role\": \"r\", \"intensity\": 0.001}, "
    "{\"term\": \"lattice2\", \"role\": \"r\", \"intensity\": 0}, {\"term\": \"semantic3\", "
    "\"role\": \"r\", \"intensity\": 0.001}, {\"term\": \"x4\", \"role\": \"r\", \"intensity\": "
    "0.001}, {\"term\": \"na\\u00efve5\", \"role\": \"r\", \"intensity\": 1.0}, {\"term\": "
    "\"semantic6\", \"role\": \"r\"}, {\"term\": \"lattice7\", \"role\": \"r\", \"intensity\": "
    "1.0}], \"source\": \"corpus\"}, \"created_at\": \"2026-11-25T07:04:35.029092+00:00\", "
    "\"updated_at\": \"2026-11-26T17:33:30.817021+00:00\"}";
static const double kReferenceEntropy = 1.0170887081471192;
static const double kReferenceTau = 1332627.0501374754;

static const char kScar[] =
    "{\"id\": \"scar_1\", \"identity_type\": \"scar\", \"lang_axis\": \"de\", "
    "\"related_ids\": [\"a\", \"b\", \"c\", \"d\"], \"weight\": 0.5}";

/* ---- The pure functions -------------------------------------------------- */

static void test_pure(void) {
  CHECK(kimera_abi_version() == KIMERA_C_ABI_VERSION);
  CHECK(strcmp(kimera_version(), KIMERA_EXPECTED_VERSION) == 0);
  CHECK(strcmp(kimera_status_name(KIMERA_OK), "ok") == 0);
  CHECK(strcmp(kimera_status_name(KIMERA_NOT_FOUND), "not_found") == 0);
  CHECK(strcmp(kimera_status_name(KIMERA_INVALID_ARGUMENT), "invalid_argument") == 0);
  CHECK(strcmp(kimera_status_name(KIMERA_CORRUPTION), "corruption") == 0);
  CHECK(strcmp(kimera_status_name(KIMERA_IO_ERROR), "io_error") == 0);
  CHECK(strcmp(kimera_status_name(KIMERA_NO_SPACE), "no_space") == 0);
  CHECK(strcmp(kimera_status_name(KIMERA_BUSY), "busy") == 0);
  CHECK(strcmp(kimera_status_name(KIMERA_UNAVAILABLE), "unavailable") == 0);
  CHECK(strcmp(kimera_status_name(KIMERA_ABORTED), "aborted") == 0);
  CHECK(strcmp(kimera_status_name(KIMERA_INTERNAL), "internal") == 0);
  CHECK(strcmp(kimera_status_name((kimera_status)42), "unknown") == 0);
  kimera_free(NULL);

  double h = -1, tau = -1;
  EXPECT(KIMERA_OK, kimera_model(kReference, 1209600.0, 0.1, &h, &tau, &error_text));
  CHECK(close_to(h, kReferenceEntropy));
  CHECK(close_to(tau, kReferenceTau));
  EXPECT(KIMERA_OK, kimera_model(kReference, 1209600.0, 0.1, NULL, NULL, &error_text));
  EXPECT(KIMERA_OK, kimera_model(kScar, 100.0, 0.0, &h, &tau, &error_text));
  CHECK(close_to(h, 1.0) && close_to(tau, 100.0)); /* log2(4) * 0.5; k 0: tau = base. */
  /* A NULL error pointer is fine either way. */
  CHECK(kimera_model(kScar, 100.0, 0.0, &h, NULL, NULL) == KIMERA_OK);
  CHECK(kimera_model("{", 100.0, 0.0, &h, NULL, NULL) == KIMERA_INVALID_ARGUMENT);

  EXPECT(KIMERA_INVALID_ARGUMENT, kimera_model(NULL, 1.0, 0.1, &h, &tau, &error_text));
  ERROR_HAS("identity_json");
  EXPECT(KIMERA_INVALID_ARGUMENT, kimera_model("{\"id\": ", 1.0, 0.1, &h, &tau, &error_text));
  ERROR_HAS("malformed JSON");
  CHECK(h == 0 && tau == 0); /* Outputs are cleared on failure. */
  EXPECT(KIMERA_INVALID_ARGUMENT,
         kimera_model("{\"id\": \"w\", \"weight\": \"heavy\"}", 1.0, 0.1, &h, &tau, &error_text));
  ERROR_HAS("weight");
  ERROR_HAS("'w'");
  EXPECT(KIMERA_INVALID_ARGUMENT, kimera_model(kScar, 0.0, 0.1, &h, &tau, &error_text));
  ERROR_HAS("base_tau_seconds");
  EXPECT(KIMERA_INVALID_ARGUMENT, kimera_model(kScar, NAN, 0.1, &h, &tau, &error_text));
  ERROR_HAS("base_tau_seconds");
  EXPECT(KIMERA_INVALID_ARGUMENT, kimera_model(kScar, 1.0, -0.5, &h, &tau, &error_text));
  ERROR_HAS("k must be");
}

/* ---- Open ---------------------------------------------------------------- */

static void test_open_errors(void) {
  kimera_store* store = (kimera_store*)&error_sentinel;
  EXPECT(KIMERA_INVALID_ARGUMENT, kimera_open("", KIMERA_CONFIG_TEXT, 0, NULL, &error_text));
  ERROR_HAS("out is NULL");
  EXPECT(KIMERA_INVALID_ARGUMENT, kimera_open(NULL, KIMERA_CONFIG_TEXT, 0, &store, &error_text));
  ERROR_HAS("config is NULL");
  CHECK(store == NULL);
  EXPECT(KIMERA_INVALID_ARGUMENT, kimera_open("", (kimera_config_kind)7, 0, &store, &error_text));
  ERROR_HAS("kind");
  EXPECT(KIMERA_INVALID_ARGUMENT, kimera_open("", KIMERA_CONFIG_TEXT, 64u, &store, &error_text));
  ERROR_HAS("flags");
  EXPECT(KIMERA_INVALID_ARGUMENT,
         kimera_open("[storage]\nbogus_key = 1\n", KIMERA_CONFIG_TEXT, 0, &store, &error_text));
  ERROR_HAS("bogus_key");
  EXPECT(KIMERA_INVALID_ARGUMENT,
         kimera_open("[metrics]\nport = \"eighty\"\n", KIMERA_CONFIG_TEXT, 0, &store, &error_text));
  ERROR_HAS("port");
  char path[600];
  path_in_root(path, sizeof path, "no-such.toml");
  EXPECT(KIMERA_INVALID_ARGUMENT, kimera_open(path, KIMERA_CONFIG_PATH, 0, &store, &error_text));
  ERROR_HAS("no-such.toml");
  EXPECT(KIMERA_INVALID_ARGUMENT, kimera_open(root, KIMERA_CONFIG_PATH, 0, &store, &error_text));
  ERROR_HAS("is a directory");
  EXPECT(KIMERA_INVALID_ARGUMENT, kimera_open("", KIMERA_CONFIG_PATH, 0, &store, &error_text));
  ERROR_HAS("empty");
  CHECK(store == NULL);
  kimera_close(NULL);
}

/* Every function given a NULL handle: INVALID_ARGUMENT naming `store`. */
static void test_null_handle(void) {
  char* out = (char*)&error_sentinel;
  char* cursor = (char*)&error_sentinel;
  uint64_t n = 7;
  size_t stored = 7;
  EXPECT(KIMERA_INVALID_ARGUMENT, kimera_store_identity(NULL, kScar, &error_text));
  ERROR_HAS("store is NULL");
  EXPECT(KIMERA_INVALID_ARGUMENT, kimera_store_many(NULL, "[]", &stored, &error_text));
  ERROR_HAS("store is NULL");
  CHECK(stored == 0);
  EXPECT(KIMERA_INVALID_ARGUMENT, kimera_fetch(NULL, "x", &out, &error_text));
  ERROR_HAS("store is NULL");
  CHECK(out == NULL);
  EXPECT(KIMERA_INVALID_ARGUMENT, kimera_fetch_many(NULL, "[]", &out, &error_text));
  EXPECT(KIMERA_INVALID_ARGUMENT, kimera_remove(NULL, "x", &error_text));
  EXPECT(KIMERA_INVALID_ARGUMENT, kimera_list(NULL, NULL, NULL, 10, &out, &error_text));
  EXPECT(KIMERA_INVALID_ARGUMENT, kimera_count(NULL, NULL, &n, &error_text));
  CHECK(n == 0);
  EXPECT(KIMERA_INVALID_ARGUMENT, kimera_find_by_entropy(NULL, 0, 1, 10, &out, &error_text));
  out = cursor = (char*)&error_sentinel;
  EXPECT(KIMERA_INVALID_ARGUMENT, kimera_scan_page(NULL, NULL, 10, &out, &cursor, &error_text));
  CHECK(out == NULL && cursor == NULL);
  EXPECT(KIMERA_INVALID_ARGUMENT, kimera_decay(NULL, "x", 0, &error_text));
  EXPECT(KIMERA_INVALID_ARGUMENT, kimera_decay_all(NULL, 0, &n, &error_text));
  EXPECT(KIMERA_INVALID_ARGUMENT, kimera_sync(NULL, &error_text));
  EXPECT(KIMERA_INVALID_ARGUMENT, kimera_dual_write_check(NULL, "x", &out, &error_text));
  EXPECT(KIMERA_INVALID_ARGUMENT, kimera_dual_write_stats(NULL, 5, &out, &error_text));
  EXPECT(KIMERA_INVALID_ARGUMENT, kimera_dual_write_verify(NULL, 0, &out, &error_text));
  EXPECT(KIMERA_INVALID_ARGUMENT, kimera_dual_write_cleanup(NULL, &error_text));
  EXPECT(KIMERA_INVALID_ARGUMENT, kimera_index_check(NULL, 0, &out, &error_text));
  EXPECT(KIMERA_INVALID_ARGUMENT, kimera_metrics_text(NULL, &out, &error_text));
  EXPECT(KIMERA_INVALID_ARGUMENT, kimera_form_store(NULL, "{}", &error_text));
  EXPECT(KIMERA_INVALID_ARGUMENT, kimera_form_fetch(NULL, "a", &out, &error_text));
  EXPECT(KIMERA_INVALID_ARGUMENT, kimera_form_list(NULL, NULL, 10, &out, &error_text));
  EXPECT(KIMERA_INVALID_ARGUMENT, kimera_form_count(NULL, NULL, &n, &error_text));
  EXPECT(KIMERA_INVALID_ARGUMENT, kimera_form_prune(NULL, 1, 0, &n, &error_text));
  EXPECT(KIMERA_INVALID_ARGUMENT, kimera_form_delete_domain(NULL, "d", &n, &error_text));
  EXPECT(KIMERA_INVALID_ARGUMENT, kimera_form_decay(NULL, 1, 0, &n, &error_text));
  ERROR_HAS("store is NULL");
  CHECK(out == NULL);
}

/* ---- Identities ------------------------------------------------------------ */

static void test_identities(kimera_store* store) {
  char* out = NULL;
  uint64_t n = 0;

  EXPECT(KIMERA_OK, kimera_store_identity(store, kReference, &error_text));
  EXPECT(KIMERA_OK, kimera_store_identity(store, kScar, &error_text));
  EXPECT(KIMERA_INVALID_ARGUMENT, kimera_store_identity(store, NULL, &error_text));
  ERROR_HAS("identity_json is NULL");
  EXPECT(KIMERA_INVALID_ARGUMENT, kimera_store_identity(store, "{\"id\": \"x\",", &error_text));
  ERROR_HAS("malformed JSON");
  EXPECT(KIMERA_INVALID_ARGUMENT,
         kimera_store_identity(store, "{\"id\": \"bad_1\", \"weight\": -1}", &error_text));
  ERROR_HAS("weight");
  ERROR_HAS("bad_1");
  EXPECT(KIMERA_INVALID_ARGUMENT,
         kimera_store_identity(store, "{\"id\": \"bad_2\", \"identity_type\": \"rock\"}",
                               &error_text));
  ERROR_HAS("identity_type");
  ERROR_HAS("bad_2");
  EXPECT(KIMERA_INVALID_ARGUMENT, kimera_store_identity(store, "[1, 2]", &error_text));

  /* Other top-level keys travel verbatim. */
  EXPECT(KIMERA_OK,
         kimera_store_identity(store, "{\"id\": \"extra_1\", \"content\": {\"k\": [1, \"v\"]}}",
                               &error_text));
  EXPECT(KIMERA_OK, kimera_fetch(store, "extra_1", &out, &error_text));
  CHECK(contains(out, "\"content\": {\"k\":[1,\"v\"]}") ||
        contains(out, "\"content\": {\"k\": [1, \"v\"]}"));
  kimera_free(out);
  EXPECT(KIMERA_OK, kimera_remove(store, "extra_1", &error_text));

  /* Fetch: the reference entropy, and tau with this store's k = 0.2. */
  EXPECT(KIMERA_OK, kimera_fetch(store, "geoid_00008", &out, &error_text));
  CHECK(contains(out, "{\"id\": \"geoid_00008\", \"identity_type\": \"geoid\""));
  CHECK(contains(out, "\"created_at\": \"2026-11-25T07:04:35.029092+00:00\""));
  CHECK(close_to(number_of(out, "entropy"), kReferenceEntropy));
  CHECK(close_to(number_of(out, "effective_tau"), 1209600.0 * (1 + 0.2 * kReferenceEntropy)));
  /* What comes out goes back in: "entropy" and "effective_tau" are ignored. */
  EXPECT(KIMERA_OK, kimera_store_identity(store, out, &error_text));
  kimera_free(out);
  out = (char*)&error_sentinel;
  EXPECT(KIMERA_NOT_FOUND, kimera_fetch(store, "absent", &out, &error_text));
  ERROR_HAS("absent");
  CHECK(out == NULL);
  EXPECT(KIMERA_INVALID_ARGUMENT, kimera_fetch(store, NULL, &out, &error_text));
  ERROR_HAS("id is NULL");
  EXPECT(KIMERA_INVALID_ARGUMENT, kimera_fetch(store, "geoid_00008", NULL, &error_text));
  ERROR_HAS("out_json is NULL");

  /* Fetch many: order asked, absent skipped. */
  EXPECT(KIMERA_OK,
         kimera_fetch_many(store, "[\"scar_1\", \"absent\", \"geoid_00008\"]", &out, &error_text));
  CHECK(out[0] == '[' && occurrences(out, "{\"id\": ") == 2);
  CHECK(strstr(out, "scar_1") < strstr(out, "geoid_00008"));
  kimera_free(out);
  EXPECT(KIMERA_OK, kimera_fetch_many(store, "[]", &out, &error_text));
  CHECK(strcmp(out, "[]") == 0);
  kimera_free(out);
  EXPECT(KIMERA_INVALID_ARGUMENT, kimera_fetch_many(store, "[\"a\", 5]", &out, &error_text));
  ERROR_HAS("ids[1]");
  CHECK(out == NULL);
  EXPECT(KIMERA_INVALID_ARGUMENT, kimera_fetch_many(store, "{\"a\": 1}", &out, &error_text));
  ERROR_HAS("array");
  EXPECT(KIMERA_INVALID_ARGUMENT, kimera_fetch_many(store, "[", &out, &error_text));
  ERROR_HAS("malformed JSON");
  EXPECT(KIMERA_INVALID_ARGUMENT, kimera_fetch_many(store, NULL, &out, &error_text));
  EXPECT(KIMERA_INVALID_ARGUMENT, kimera_fetch_many(store, "[]", NULL, &error_text));

  /* store_many: one bad element and nothing is written. */
  size_t stored = 99;
  EXPECT(KIMERA_OK, kimera_count(store, NULL, &n, &error_text));
  CHECK(n == 2);
  EXPECT(KIMERA_INVALID_ARGUMENT,
         kimera_store_many(store,
                           "[{\"id\": \"m1\"}, {\"id\": \"m2\", \"tags\": \"notalist\"}, "
                           "{\"id\": \"m3\"}]",
                           &stored, &error_text));
  ERROR_HAS("identities[1]");
  ERROR_HAS("m2");
  ERROR_HAS("tags");
  CHECK(stored == 0);
  EXPECT(KIMERA_INVALID_ARGUMENT,
         kimera_store_many(store, "[{\"id\": \"m1\"}, {\"weight\": 1}]", &stored, &error_text));
  ERROR_HAS("identities[1]");
  ERROR_HAS("id");
  EXPECT(KIMERA_OK, kimera_count(store, NULL, &n, &error_text));
  CHECK(n == 2);
  EXPECT(KIMERA_INVALID_ARGUMENT,
         kimera_store_many(store, "[{\"id\": \"m7\"}, {\"id\": \"m7\"}]", &stored, &error_text));
  ERROR_HAS("identities[1]: id 'm7' is identities[0] again");
  CHECK(stored == 0);
  {
    /* One more than a call takes: refused whole, before anything is parsed into identities. */
    const char element[] = "{\"id\": \"big\"},";
    const size_t count = KIMERA_MAX_STORE_MANY + 1;
    char* many = malloc(count * (sizeof(element) - 1) + 2);
    CHECK(many != NULL);
    if (many != NULL) {
      char* at = many;
      *at++ = '[';
      for (size_t i = 0; i < count; ++i, at += sizeof(element) - 1) {
        memcpy(at, element, sizeof(element) - 1);
      }
      at[-1] = ']';
      *at = '\0';
      EXPECT(KIMERA_INVALID_ARGUMENT, kimera_store_many(store, many, &stored, &error_text));
      ERROR_HAS("10001 in one call; at most 10000");
      CHECK(stored == 0);
      free(many);
    }
  }
  EXPECT(KIMERA_INVALID_ARGUMENT, kimera_store_many(store, "{}", &stored, &error_text));
  ERROR_HAS("array");
  EXPECT(KIMERA_INVALID_ARGUMENT, kimera_store_many(store, "[{", &stored, &error_text));
  EXPECT(KIMERA_INVALID_ARGUMENT, kimera_store_many(store, NULL, &stored, &error_text));
  EXPECT(KIMERA_OK, kimera_store_many(store,
                                      "[{\"id\": \"m1\", \"lang_axis\": \"de\"}, {\"id\": \"m2\", "
                                      "\"tags\": [\"a\", \"b\"]}, {\"id\": \"m3\"}]",
                                      &stored, &error_text));
  CHECK(stored == 3);
  EXPECT(KIMERA_OK, kimera_store_many(store, "[]", NULL, &error_text));

  /* Count, list, find_by_entropy. */
  EXPECT(KIMERA_OK, kimera_count(store, NULL, &n, &error_text));
  CHECK(n == 5);
  EXPECT(KIMERA_OK, kimera_count(store, "geoid", &n, &error_text));
  CHECK(n == 4);
  EXPECT(KIMERA_OK, kimera_count(store, "scar", &n, &error_text));
  CHECK(n == 1);
  EXPECT(KIMERA_INVALID_ARGUMENT, kimera_count(store, "rock", &n, &error_text));
  ERROR_HAS("identity_type");
  EXPECT(KIMERA_INVALID_ARGUMENT, kimera_count(store, NULL, NULL, &error_text));
  ERROR_HAS("out is NULL");

  EXPECT(KIMERA_OK, kimera_list(store, NULL, NULL, 100, &out, &error_text));
  CHECK(occurrences(out, "{\"id\": ") == 5);
  kimera_free(out);
  EXPECT(KIMERA_OK, kimera_list(store, NULL, NULL, 2, &out, &error_text));
  CHECK(occurrences(out, "{\"id\": ") == 2);
  kimera_free(out);
  EXPECT(KIMERA_OK, kimera_list(store, "scar", NULL, 100, &out, &error_text));
  CHECK(occurrences(out, "{\"id\": ") == 1 && contains(out, "scar_1"));
  kimera_free(out);
  EXPECT(KIMERA_OK, kimera_list(store, NULL, "de", 100, &out, &error_text));
  CHECK(occurrences(out, "{\"id\": ") == 2 && contains(out, "m1") && contains(out, "scar_1"));
  kimera_free(out);
  EXPECT(KIMERA_OK, kimera_list(store, "geoid", "de", 100, &out, &error_text));
  CHECK(occurrences(out, "{\"id\": ") == 1 && contains(out, "m1"));
  kimera_free(out);
  EXPECT(KIMERA_INVALID_ARGUMENT, kimera_list(store, "rock", NULL, 100, &out, &error_text));
  ERROR_HAS("identity_type");
  EXPECT(KIMERA_INVALID_ARGUMENT, kimera_list(store, NULL, NULL, 100, NULL, &error_text));

  EXPECT(KIMERA_OK, kimera_find_by_entropy(store, 0.99, 1.02, 100, &out, &error_text));
  /* scar_1 (1.0), m2 (1.0) and geoid_00008 (1.017), highest first. */
  CHECK(occurrences(out, "{\"id\": ") == 3);
  CHECK(strstr(out, "geoid_00008") < strstr(out, "m2") &&
        strstr(out, "m2") < strstr(out, "scar_1"));
  kimera_free(out);
  EXPECT(KIMERA_OK, kimera_find_by_entropy(store, 50, 60, 100, &out, &error_text));
  CHECK(strcmp(out, "[]") == 0);
  kimera_free(out);
  EXPECT(KIMERA_INVALID_ARGUMENT, kimera_find_by_entropy(store, NAN, 1, 100, &out, &error_text));
  EXPECT(KIMERA_INVALID_ARGUMENT, kimera_find_by_entropy(store, 0, 1, 100, NULL, &error_text));

  /* Decay one, then every identity. */
  EXPECT(KIMERA_OK, kimera_decay(store, "geoid_00008", 0, &error_text));
  EXPECT(KIMERA_OK, kimera_fetch(store, "geoid_00008", &out, &error_text));
  CHECK(number_of(out, "weight") < 1.0 && number_of(out, "weight") > 0.0);
  kimera_free(out);
  /* Before the last application: refused, nothing changes. */
  EXPECT(KIMERA_INVALID_ARGUMENT,
         kimera_decay(store, "geoid_00008", INT64_C(1700000000000000), &error_text));
  EXPECT(KIMERA_NOT_FOUND, kimera_decay(store, "absent", 0, &error_text));
  EXPECT(KIMERA_INVALID_ARGUMENT, kimera_decay(store, NULL, 0, &error_text));
  n = 0;
  EXPECT(KIMERA_OK, kimera_decay_all(store, 0, &n, &error_text));
  CHECK(n == 5);
  EXPECT(KIMERA_OK, kimera_decay_all(store, 0, NULL, &error_text));
  EXPECT(KIMERA_OK, kimera_sync(store, &error_text));

  /* Remove. */
  EXPECT(KIMERA_OK, kimera_remove(store, "m3", &error_text));
  EXPECT(KIMERA_NOT_FOUND, kimera_remove(store, "m3", &error_text));
  ERROR_HAS("m3");
  EXPECT(KIMERA_INVALID_ARGUMENT, kimera_remove(store, NULL, &error_text));
  EXPECT(KIMERA_OK, kimera_count(store, NULL, &n, &error_text));
  CHECK(n == 4);

  /* The index agrees with the records. */
  EXPECT(KIMERA_OK, kimera_index_check(store, 0, &out, &error_text));
  CHECK(contains(out, "\"ok\":true") && contains(out, "\"problem_count\":0"));
  CHECK(number_of(out, "records") == 4 && number_of(out, "index_entries") == 4);
  kimera_free(out);
  EXPECT(KIMERA_OK, kimera_index_check(store, 1, &out, &error_text));
  CHECK(contains(out, "\"repaired\":0") && contains(out, "\"problems\":[]"));
  kimera_free(out);
  EXPECT(KIMERA_INVALID_ARGUMENT, kimera_index_check(store, 0, NULL, &error_text));

  /* Metrics: the store's own families, not served. */
  EXPECT(KIMERA_OK, kimera_metrics_text(store, &out, &error_text));
  CHECK(contains(out, "kimera_storage_operations_duration_seconds"));
  kimera_free(out);
  EXPECT(KIMERA_INVALID_ARGUMENT, kimera_metrics_text(store, NULL, &error_text));
}

/* 25 identities in 7-id pages: every id exactly once, in id order. */
static void test_scan(kimera_store* store, size_t page_size) {
  EXPECT(KIMERA_OK, kimera_store_many(store,
                                      "[{\"id\": \"s00\"}, {\"id\": \"s01\"}, {\"id\": \"s02\"}, "
                                      "{\"id\": \"s03\"}, {\"id\": \"s04\"}, {\"id\": \"s05\"}, "
                                      "{\"id\": \"s06\"}, {\"id\": \"s07\"}, {\"id\": \"s08\"}, "
                                      "{\"id\": \"s09\"}, {\"id\": \"s10\"}, {\"id\": \"s11\"}, "
                                      "{\"id\": \"s12\"}, {\"id\": \"s13\"}, {\"id\": \"s14\"}, "
                                      "{\"id\": \"s15\"}, {\"id\": \"s16\"}, {\"id\": \"s17\"}, "
                                      "{\"id\": \"s18\"}, {\"id\": \"s19\"}, {\"id\": \"s20\"}, "
                                      "{\"id\": \"s21\"}, {\"id\": \"s22\"}, {\"id\": \"s23\"}, "
                                      "{\"id\": \"s24\"}]",
                                      NULL, &error_text));
  uint64_t total = 0;
  EXPECT(KIMERA_OK, kimera_count(store, NULL, &total, &error_text));
  char last[64] = "";
  uint64_t seen = 0, seen_s = 0;
  size_t pages = 0;
  char* cursor = NULL;
  do {
    char* page = NULL;
    char* next = NULL;
    EXPECT(KIMERA_OK, kimera_scan_page(store, cursor, page_size, &page, &next, &error_text));
    ++pages;
    const size_t in_page = occurrences(page, "{\"id\": \"");
    CHECK(in_page <= page_size && in_page > 0);
    CHECK(next == NULL || in_page == page_size);
    for (const char* p = page; (p = strstr(p, "{\"id\": \"")) != NULL;) {
      p += strlen("{\"id\": \"");
      const char* end = strchr(p, '"');
      char id[64];
      CHECK(end != NULL && (size_t)(end - p) < sizeof id);
      memcpy(id, p, (size_t)(end - p));
      id[end - p] = '\0';
      CHECK(strcmp(last, id) < 0); /* Strictly increasing: none twice. */
      strcpy(last, id);
      ++seen;
      if (id[0] == 's' && strlen(id) == 3) ++seen_s;
    }
    if (next != NULL) CHECK(strcmp(next, last) == 0);
    kimera_free(page);
    kimera_free(cursor);
    cursor = next;
  } while (cursor != NULL);
  CHECK(seen == total);
  CHECK(seen_s == 25);
  CHECK(pages == (size_t)((total + page_size - 1) / page_size));

  char* page = (char*)&error_sentinel;
  char* next = (char*)&error_sentinel;
  EXPECT(KIMERA_OK, kimera_scan_page(store, "s23", page_size, &page, &next, &error_text));
  CHECK(contains(page, "\"s24\"") && !contains(page, "\"s23\"") && next == NULL);
  kimera_free(page);
  EXPECT(KIMERA_OK, kimera_scan_page(store, "zzz", page_size, &page, &next, &error_text));
  CHECK(strcmp(page, "[]") == 0 && next == NULL);
  kimera_free(page);
  EXPECT(KIMERA_INVALID_ARGUMENT, kimera_scan_page(store, "", 0, &page, &next, &error_text));
  ERROR_HAS("page_size");
  EXPECT(KIMERA_INVALID_ARGUMENT, kimera_scan_page(store, "", 3, NULL, &next, &error_text));
  EXPECT(KIMERA_INVALID_ARGUMENT, kimera_scan_page(store, "", 3, &page, NULL, &error_text));
}

/* With dual-write off every dual-write call says so. */
static void test_dual_write_off(kimera_store* store) {
  char* out = (char*)&error_sentinel;
  EXPECT(KIMERA_INVALID_ARGUMENT, kimera_dual_write_check(store, "m1", &out, &error_text));
  ERROR_HAS("dual-write is not enabled");
  CHECK(out == NULL);
  EXPECT(KIMERA_INVALID_ARGUMENT, kimera_dual_write_stats(store, 5, &out, &error_text));
  ERROR_HAS("dual-write is not enabled");
  EXPECT(KIMERA_INVALID_ARGUMENT, kimera_dual_write_verify(store, 0, &out, &error_text));
  ERROR_HAS("dual-write is not enabled");
  EXPECT(KIMERA_INVALID_ARGUMENT, kimera_dual_write_verify(store, 1, &out, &error_text));
  ERROR_HAS("dual-write is not enabled");
  /* Cleanup is allowed off, but refused: no clean sweep was ever recorded. */
  EXPECT(KIMERA_INVALID_ARGUMENT, kimera_dual_write_cleanup(store, &error_text));
  ERROR_HAS("cleanup refused");
  EXPECT(KIMERA_INVALID_ARGUMENT, kimera_dual_write_check(store, NULL, &out, &error_text));
  EXPECT(KIMERA_INVALID_ARGUMENT, kimera_dual_write_check(store, "m1", NULL, &error_text));
  EXPECT(KIMERA_INVALID_ARGUMENT, kimera_dual_write_stats(store, 5, NULL, &error_text));
  EXPECT(KIMERA_INVALID_ARGUMENT, kimera_dual_write_verify(store, 0, NULL, &error_text));
}

static void test_dual_write_on(void) {
  kimera_store* store =
      open_text("dual", "[dual_write]\nenabled = true\nsecondary = \"legacy\"\n", 0);
  char* out = NULL;
  EXPECT(KIMERA_OK, kimera_store_identity(store, kReference, &error_text));
  EXPECT(KIMERA_OK,
         kimera_store_many(store, "[{\"id\": \"d1\"}, {\"id\": \"d2\"}]", NULL, &error_text));
  EXPECT(KIMERA_OK, kimera_store_identity(store, kScar, &error_text));
  EXPECT(KIMERA_OK, kimera_remove(store, "d2", &error_text));

  EXPECT(KIMERA_OK, kimera_dual_write_check(store, "geoid_00008", &out, &error_text));
  CHECK(contains(out, "\"id\":\"geoid_00008\"") && contains(out, "\"result\":\"consistent\""));
  CHECK(contains(out, "\"fields\":[]") && number_of(out, "entropy_drift") == 0);
  kimera_free(out);
  EXPECT(KIMERA_OK, kimera_dual_write_check(store, "d2", &out, &error_text));
  CHECK(contains(out, "\"result\":\"consistent\"")); /* Absent on both sides. */
  kimera_free(out);

  EXPECT(KIMERA_OK, kimera_dual_write_stats(store, 3, &out, &error_text));
  CHECK(contains(out, "\"enabled\":true") && contains(out, "\"secondary\":\"legacy"));
  CHECK(number_of(out, "total") >= 4 && number_of(out, "failures") == 0);
  CHECK(number_of(out, "primary_count") == 3 && number_of(out, "secondary_count") == 3);
  CHECK(number_of(out, "secondary_geoids") == 2 && number_of(out, "secondary_scars") == 1);
  CHECK(number_of(out, "success_rate") == 1 && number_of(out, "repair_backlog") == 0);
  CHECK(occurrences(out, "\"sequence\":") == 3 && contains(out, "\"operation\":\"remove\""));
  kimera_free(out);

  EXPECT(KIMERA_OK, kimera_dual_write_verify(store, 0, &out, &error_text));
  CHECK(contains(out, "\"clean\":true") && contains(out, "\"listed\":[]"));
  CHECK(number_of(out, "visited") == 3 && number_of(out, "differences") == 0);
  kimera_free(out);
  EXPECT(KIMERA_OK, kimera_dual_write_verify(store, 1, &out, &error_text));
  CHECK(contains(out, "\"clean\":true") && number_of(out, "repaired") == 0);
  kimera_free(out);
  EXPECT(KIMERA_INVALID_ARGUMENT, kimera_dual_write_cleanup(store, &error_text));
  ERROR_HAS("dual-write is on");
  kimera_close(store);

  /* Off after a clean sweep: cleanup drops the legacy side. */
  store = open_text("dual", "", 0);
  EXPECT(KIMERA_OK, kimera_dual_write_cleanup(store, &error_text));
  uint64_t n = 0;
  EXPECT(KIMERA_OK, kimera_count(store, NULL, &n, &error_text));
  CHECK(n == 3);
  kimera_close(store);
}

/* KIMERA_OPEN_APPLY_ENV: KIMERA_ID_DUAL_WRITE=1 turns dual-write on, only
 * with the flag. */
static void test_environment(void) {
  CHECK(setenv("KIMERA_ID_DUAL_WRITE", "1", 1) == 0);
  char* out = NULL;
  kimera_store* store = open_text("env", "", 0);
  EXPECT(KIMERA_INVALID_ARGUMENT, kimera_dual_write_stats(store, 1, &out, &error_text));
  kimera_close(store);
  store = open_text("env", "", KIMERA_OPEN_APPLY_ENV);
  EXPECT(KIMERA_OK, kimera_dual_write_stats(store, 1, &out, &error_text));
  CHECK(contains(out, "\"enabled\":true"));
  kimera_free(out);
  kimera_close(store);
  CHECK(setenv("KIMERA_ID_DUAL_WRITE", "maybe", 1) == 0);
  kimera_store* bad = NULL;
  EXPECT(KIMERA_INVALID_ARGUMENT,
         kimera_open("", KIMERA_CONFIG_TEXT, KIMERA_OPEN_APPLY_ENV, &bad, &error_text));
  ERROR_HAS("KIMERA_ID_DUAL_WRITE");
  CHECK(bad == NULL);
  CHECK(unsetenv("KIMERA_ID_DUAL_WRITE") == 0);
}

/* KIMERA_OPEN_SERVE_METRICS with port 0 (a free port) on loopback. */
static void test_serve_metrics(void) {
  kimera_store* store = open_text("served", "", KIMERA_OPEN_SERVE_METRICS);
  char* out = NULL;
  EXPECT(KIMERA_OK, kimera_store_identity(store, kScar, &error_text));
  EXPECT(KIMERA_OK, kimera_metrics_text(store, &out, &error_text));
  CHECK(contains(out, "kimera_"));
  kimera_free(out);
  kimera_close(store);
}

/* Many threads on one handle: stores, fetches, counts and decays at once. */
enum { kThreads = 4, kPerThread = 40 };

struct worker {
  kimera_store* store;
  int t;
};

static void* hammer(void* arg) {
  kimera_store* store = ((struct worker*)arg)->store;
  const int t = ((struct worker*)arg)->t;
  for (int i = 0; i < kPerThread; ++i) {
    char json[128], id[32];
    snprintf(id, sizeof id, "t%d_%02d", t, i);
    snprintf(json, sizeof json, "{\"id\": \"%s\", \"tags\": [\"a\", \"b\", \"c\"]}", id);
    char* error = NULL;
    char* out = NULL;
    uint64_t n = 0;
    if (kimera_store_identity(store, json, &error) != KIMERA_OK ||
        kimera_fetch(store, id, &out, &error) != KIMERA_OK || !contains(out, id) ||
        kimera_count(store, NULL, &n, &error) != KIMERA_OK ||
        (i % 10 == 0 && kimera_decay_all(store, 0, NULL, &error) != KIMERA_OK)) {
      fprintf(stderr, "thread %d, %s: %s\n", t, id, error != NULL ? error : "wrong result");
      kimera_free(error);
      kimera_free(out);
      return (void*)1;
    }
    kimera_free(out);
  }
  return NULL;
}

static void test_threads(void) {
  kimera_store* store = open_text("threads", "", 0);
  pthread_t threads[kThreads];
  struct worker workers[kThreads];
  for (int t = 0; t < kThreads; ++t) {
    workers[t].store = store;
    workers[t].t = t;
    CHECK(pthread_create(&threads[t], NULL, hammer, &workers[t]) == 0);
  }
  for (int t = 0; t < kThreads; ++t) {
    void* result = NULL;
    CHECK(pthread_join(threads[t], &result) == 0);
    CHECK(result == NULL);
  }
  uint64_t n = 0;
  EXPECT(KIMERA_OK, kimera_count(store, NULL, &n, &error_text));
  CHECK(n == kThreads * kPerThread);
  char* out = NULL;
  EXPECT(KIMERA_OK, kimera_index_check(store, 0, &out, &error_text));
  CHECK(contains(out, "\"ok\":true"));
  kimera_free(out);
  kimera_close(store);
}

/* ---- Echo forms ------------------------------------------------------------ */

static void test_forms(kimera_store* store) {
  char* out = NULL;
  uint64_t n = 99;
  EXPECT(KIMERA_OK,
         kimera_form_store(store,
                           "{\"anchor\": \"f1\", \"blob\": {\"terms\": [{\"term\": \"a\", "
                           "\"intensity\": 2.0}]}, \"domain\": \"d1\", \"phase\": 0.5, "
                           "\"intensity_sum\": 2.0}",
                           &error_text));
  EXPECT(KIMERA_OK, kimera_form_store(store,
                                      "{\"anchor\": \"f2\", \"blob\": {}, \"domain\": \"d1\", "
                                      "\"phase\": 0, \"intensity_sum\": 0}",
                                      &error_text));
  EXPECT(KIMERA_OK, kimera_form_store(store,
                                      "{\"anchor\": \"f3\", \"blob\": {\"k\": [1, 2]}, "
                                      "\"domain\": \"d2\", \"phase\": 1, \"intensity_sum\": 1}",
                                      &error_text));
  EXPECT(KIMERA_INVALID_ARGUMENT, kimera_form_store(store, "{\"anchor\": ", &error_text));
  ERROR_HAS("malformed JSON");
  EXPECT(KIMERA_INVALID_ARGUMENT,
         kimera_form_store(store, "{\"blob\": {}, \"domain\": \"d\"}", &error_text));
  ERROR_HAS("anchor");
  EXPECT(KIMERA_INVALID_ARGUMENT,
         kimera_form_store(store, "{\"anchor\": \"f9\", \"blob\": 5, \"domain\": \"d\"}",
                           &error_text));
  ERROR_HAS("blob");
  EXPECT(KIMERA_INVALID_ARGUMENT, kimera_form_store(store, NULL, &error_text));
  ERROR_HAS("form_json is NULL");

  EXPECT(KIMERA_OK, kimera_form_fetch(store, "f1", &out, &error_text));
  CHECK(contains(out, "\"anchor\":\"f1\"") && contains(out, "\"domain\":\"d1\""));
  CHECK(number_of(out, "phase") == 0.5 && number_of(out, "intensity_sum") == 2.0);
  CHECK(number_of(out, "created_at") > 1.7e9 && number_of(out, "updated_at") > 1.7e9);
  kimera_free(out);
  out = (char*)&error_sentinel;
  EXPECT(KIMERA_NOT_FOUND, kimera_form_fetch(store, "f9", &out, &error_text));
  CHECK(out == NULL);
  EXPECT(KIMERA_INVALID_ARGUMENT, kimera_form_fetch(store, NULL, &out, &error_text));
  EXPECT(KIMERA_INVALID_ARGUMENT, kimera_form_fetch(store, "f1", NULL, &error_text));

  EXPECT(KIMERA_OK, kimera_form_list(store, NULL, 10, &out, &error_text));
  CHECK(occurrences(out, "\"anchor\":") == 3);
  kimera_free(out);
  EXPECT(KIMERA_OK, kimera_form_list(store, "d1", 10, &out, &error_text));
  CHECK(occurrences(out, "\"anchor\":") == 2 && !contains(out, "\"f3\""));
  kimera_free(out);
  EXPECT(KIMERA_OK, kimera_form_list(store, NULL, 1, &out, &error_text));
  CHECK(occurrences(out, "\"anchor\":") == 1);
  kimera_free(out);
  EXPECT(KIMERA_INVALID_ARGUMENT, kimera_form_list(store, NULL, 1, NULL, &error_text));

  EXPECT(KIMERA_OK, kimera_form_count(store, NULL, &n, &error_text));
  CHECK(n == 3);
  EXPECT(KIMERA_OK, kimera_form_count(store, "d2", &n, &error_text));
  CHECK(n == 1);
  EXPECT(KIMERA_INVALID_ARGUMENT, kimera_form_count(store, NULL, NULL, &error_text));

  /* Decay 100 s ahead with tau 100 s: intensities times exp(-1). */
  const double later = (double)time(NULL) + 100.0;
  EXPECT(KIMERA_OK, kimera_form_decay(store, 100.0, later, &n, &error_text));
  CHECK(n >= 1);
  EXPECT(KIMERA_OK, kimera_form_fetch(store, "f1", &out, &error_text));
  CHECK(number_of(out, "intensity_sum") < 2.0 * exp(-0.9));
  CHECK(number_of(out, "intensity_sum") > 2.0 * exp(-1.1));
  kimera_free(out);
  EXPECT(KIMERA_INVALID_ARGUMENT, kimera_form_decay(store, 0.0, later, &n, &error_text));
  EXPECT(KIMERA_INVALID_ARGUMENT, kimera_form_decay(store, 10.0, NAN, &n, &error_text));
  ERROR_HAS("now_seconds");

  EXPECT(KIMERA_OK, kimera_form_delete_domain(store, "d1", &n, &error_text));
  CHECK(n == 2);
  EXPECT(KIMERA_OK, kimera_form_delete_domain(store, "d1", NULL, &error_text));
  EXPECT(KIMERA_INVALID_ARGUMENT, kimera_form_delete_domain(store, NULL, &n, &error_text));
  ERROR_HAS("domain is NULL");
  /* Created just now: not older than an hour; older than 0 s at now + 10 s. */
  EXPECT(KIMERA_OK, kimera_form_prune(store, 3600.0, 0.0, &n, &error_text));
  CHECK(n == 0);
  EXPECT(KIMERA_OK, kimera_form_prune(store, 0.0, (double)time(NULL) + 10.0, &n, &error_text));
  CHECK(n == 1);
  EXPECT(KIMERA_INVALID_ARGUMENT, kimera_form_prune(store, -1.0, 0.0, &n, &error_text));
  ERROR_HAS("older_than_seconds");
  EXPECT(KIMERA_OK, kimera_form_count(store, NULL, &n, &error_text));
  CHECK(n == 0);
}

/* ---- Main ------------------------------------------------------------------- */

int main(void) {
  const char* tmp = getenv("TMPDIR");
  snprintf(root, sizeof root, "%s/kimera_c_abi_XXXXXX", tmp != NULL && *tmp ? tmp : "/tmp");
  CHECK(mkdtemp(root) != NULL);
  CHECK(atexit(remove_root) == 0);
  error_text = &error_sentinel;

  test_pure();
  test_open_errors();
  test_null_handle();

  /* The main store, opened from a file. */
  char config_path[600];
  path_in_root(config_path, sizeof config_path, "kimera.toml");
  FILE* f = fopen(config_path, "w");
  CHECK(f != NULL);
  fprintf(f,
          "[storage]\npath = \"%s/main\"\n[metrics]\nport = 0\n"
          "[entropy]\nk = 0.2\nmax_future_seconds = 1099511627776\n",
          root);
  CHECK(fclose(f) == 0);
  kimera_store* store = NULL;
  EXPECT(KIMERA_OK, kimera_open(config_path, KIMERA_CONFIG_PATH, 0, &store, &error_text));
  CHECK(store != NULL);
  kimera_store* second = NULL;
  EXPECT(KIMERA_BUSY, kimera_open(config_path, KIMERA_CONFIG_PATH, 0, &second, &error_text));
  CHECK(second == NULL);

  test_identities(store);
  test_scan(store, 7);
  test_scan(store, 5);
  test_dual_write_off(store);
  test_forms(store);
  kimera_close(store);

  /* Reopened: everything is still there. */
  EXPECT(KIMERA_OK, kimera_open(config_path, KIMERA_CONFIG_PATH, 0, &store, &error_text));
  uint64_t n = 0;
  EXPECT(KIMERA_OK, kimera_count(store, NULL, &n, &error_text));
  CHECK(n == 29);
  kimera_close(store);

  test_dual_write_on();
  test_environment();
  test_serve_metrics();
  test_threads();

  free_error();
  printf("c_abi: %d checks passed\n", checks_run);
  return 0;
}
