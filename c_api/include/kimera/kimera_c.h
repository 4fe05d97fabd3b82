/* kimera_c.h: the C ABI of the Kimera identity store, for hosts in other
 * languages (the Python package python/kimera_entropy/ calls it through
 * ctypes). It reaches the same stack as the C++ API: the embedded RocksDB
 * store wrapped by the entropy plugin, with dual-write when configured.
 *
 * Conventions, for every function below:
 * - A function that can fail returns a kimera_status: KIMERA_OK, a code that
 *   matches kimera::Status::Code, or KIMERA_INTERNAL for an unexpected
 *   failure inside the library. No C++ exception ever crosses this boundary.
 * - Its last parameter is `char** error`. When it is not NULL, *error is set
 *   to NULL on success and, on failure, to a UTF-8 message naming the field,
 *   id or line, which the caller frees with kimera_free().
 * - A NULL handle or a NULL required pointer gives KIMERA_INVALID_ARGUMENT
 *   naming the parameter; nothing is done.
 * - Identities cross as UTF-8 JSON objects in the reference's to_dict()
 *   shape: id, identity_type, raw, echo, lang_axis, tags, weight,
 *   related_ids, meta, created_at, updated_at (ISO 8601), plus any other
 *   top-level keys of the stored identity verbatim. On the way out each
 *   identity also carries "entropy" (bits) and "effective_tau" (seconds);
 *   on the way in those two keys are ignored.
 * - Every `char**` output (JSON text, cursors) is allocated by the library;
 *   the caller frees it with kimera_free(). On failure it is set to NULL.
 * - Times are UTC. `now_micros` of 0 means the store's clock.
 *
 * Thread-safety: every function may be called from many threads at once on
 * one handle, except kimera_close(), which the caller must not run
 * concurrently with any other call on the same handle. The pure functions
 * (kimera_abi_version, kimera_model, kimera_free) need no handle.
 */
#ifndef KIMERA_KIMERA_C_H_
#define KIMERA_KIMERA_C_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped on any incompatible change to this header. */
#define KIMERA_C_ABI_VERSION 1

/* The most identities one kimera_store_many call takes. */
#define KIMERA_MAX_STORE_MANY 10000u

typedef enum kimera_status {
  KIMERA_OK = 0,
  KIMERA_NOT_FOUND = 1,
  KIMERA_INVALID_ARGUMENT = 2,
  KIMERA_CORRUPTION = 3,
  KIMERA_IO_ERROR = 4,
  KIMERA_NO_SPACE = 5,
  KIMERA_BUSY = 6,
  KIMERA_UNAVAILABLE = 7,
  KIMERA_ABORTED = 8,
  KIMERA_INTERNAL = 100, /* a failure inside the library (a bug): the message says where */
  /* Not a status: makes the enum an int in C and lets C++ read any int a
   * caller passes (a value outside an enum's range is undefined there). */
  KIMERA_STATUS_MAX_ENUM_ = 0x7fffffff
} kimera_status;

/* An open store stack. Opaque. */
typedef struct kimera_store kimera_store;

/* KIMERA_C_ABI_VERSION of the library actually loaded. */
int kimera_abi_version(void);

/* "0.1.0": the library's version. Static; never freed. */
const char* kimera_version(void);

/* The short name of a status ("ok", "not_found", ..., "internal"). Static. */
const char* kimera_status_name(kimera_status status);

/* Frees a string the library returned. NULL is fine. */
void kimera_free(void* p);

/* ---- Open and close ---------------------------------------------------- */

typedef enum kimera_config_kind {
  KIMERA_CONFIG_TEXT = 0, /* `config` is TOML text (kimera.toml's format); "" = defaults */
  KIMERA_CONFIG_PATH = 1, /* `config` is the path of a TOML file */
  KIMERA_CONFIG_KIND_MAX_ENUM_ = 0x7fffffff /* not a kind: as KIMERA_STATUS_MAX_ENUM_ */
} kimera_config_kind;

/* Flags of kimera_open. */
#define KIMERA_OPEN_SERVE_METRICS 1u /* start the /metrics endpoint when the config enables it */
#define KIMERA_OPEN_APPLY_ENV 2u     /* apply the KIMERA_* environment overrides, as the CLI does */

/* Opens the stack the configuration describes. Metrics are not served
 * unless KIMERA_OPEN_SERVE_METRICS is given. KIMERA_BUSY when another
 * process holds the database; KIMERA_INVALID_ARGUMENT naming the key for a
 * bad configuration. On success *out is a handle for kimera_close(). */
kimera_status kimera_open(const char* config, kimera_config_kind kind, unsigned flags,
                          kimera_store** out, char** error);

/* Stops background work, syncs nothing more than a normal close does, and
 * frees the handle. NULL is fine. */
void kimera_close(kimera_store* store);

/* ---- Identities --------------------------------------------------------- */

/* Inserts or replaces one identity (JSON object). Invalid input gives
 * KIMERA_INVALID_ARGUMENT naming the field and the id; nothing is written. */
kimera_status kimera_store_identity(kimera_store* store, const char* identity_json, char** error);

/* Stores a JSON array of at most 10,000 identities (KIMERA_MAX_STORE_MANY).
 * Every element is parsed and checked first: one bad element, or an id given
 * twice, gives KIMERA_INVALID_ARGUMENT naming its index ("identities[3]: ...")
 * and nothing is written. On the embedded store they are then committed in
 * one atomic batch, so a failure leaves none of them; with a second-database
 * dual-write secondary, or an index at index.separate_path, they are stored
 * one at a time, in order. *stored (when not NULL) receives how many, from
 * the first, are stored when the call returns. */
kimera_status kimera_store_many(kimera_store* store, const char* identities_json_array,
                                size_t* stored, char** error);

/* The identity stored under `id` as JSON in *out_json. KIMERA_NOT_FOUND
 * when absent. */
kimera_status kimera_fetch(kimera_store* store, const char* id, char** out_json, char** error);

/* A JSON array of ids in; a JSON array of the identities found out, in the
 * order asked, absent ids skipped. */
kimera_status kimera_fetch_many(kimera_store* store, const char* ids_json_array,
                                char** out_json_array, char** error);

/* Deletes the identity stored under `id`. KIMERA_NOT_FOUND when absent. */
kimera_status kimera_remove(kimera_store* store, const char* id, char** error);

/* A JSON array of at most `limit` identities, newest updated_at first.
 * `identity_type` ("geoid" or "scar") and `lang_axis` filter when not NULL. */
kimera_status kimera_list(kimera_store* store, const char* identity_type, const char* lang_axis,
                          size_t limit, char** out_json_array, char** error);

/* Number of identities, of `identity_type` or (NULL) of all. */
kimera_status kimera_count(kimera_store* store, const char* identity_type, uint64_t* out,
                           char** error);

/* A JSON array of at most `limit` identities with min <= H <= max, highest
 * entropy first (ties by id). */
kimera_status kimera_find_by_entropy(kimera_store* store, double min_entropy, double max_entropy,
                                     size_t limit, char** out_json_array, char** error);

/* One page of a scan in id order: at most `page_size` (>= 1) identities
 * with id > `start_after` ("" or NULL: from the first). *next_cursor is the id to pass
 * as `start_after` for the next page, or NULL when the scan is complete. */
kimera_status kimera_scan_page(kimera_store* store, const char* start_after, size_t page_size,
                               char** out_json_array, char** next_cursor, char** error);

/* Applies decay to one identity at `now_micros`, with the configured
 * [entropy] base_tau_seconds and k (never compounding: see
 * IdentityStore::ApplyDecay). KIMERA_NOT_FOUND when absent;
 * KIMERA_INVALID_ARGUMENT when `now_micros` is before its last decay. */
kimera_status kimera_decay(kimera_store* store, const char* id, int64_t now_micros, char** error);

/* Applies decay to every identity; *applied (when not NULL) receives how
 * many changed (identities removed meanwhile or already decayed after
 * `now_micros` are skipped). KIMERA_IO_ERROR naming the first id when some
 * could not be decayed; the others were. */
kimera_status kimera_decay_all(kimera_store* store, int64_t now_micros, uint64_t* applied,
                               char** error);

/* Makes every acknowledged write durable. */
kimera_status kimera_sync(kimera_store* store, char** error);

/* ---- The pure model (no store) ----------------------------------------- */

/* Entropy (bits) and effective tau (seconds) of one identity given as JSON,
 * with tau's parameters: base_tau_seconds (> 0) and k (>= 0). Either output
 * may be NULL. */
kimera_status kimera_model(const char* identity_json, double base_tau_seconds, double k,
                           double* entropy, double* effective_tau, char** error);

/* ---- Administration ----------------------------------------------------- */

/* Compares both sides of `id`: a JSON object {"id", "result" ("consistent",
 * "mismatch", "missing_primary", "missing_secondary"), "fields": [{"field",
 * "primary", "secondary"}] (each side's value as JSON), "entropy_drift"}. KIMERA_INVALID_ARGUMENT
 * "dual-write is not enabled" when it is off. */
kimera_status kimera_dual_write_check(kimera_store* store, const char* id, char** out_json,
                                      char** error);

/* Dual-write totals as a JSON object {"enabled", "total", "successes",
 * "failures", "success_rate", "primary_count", "secondary_geoids",
 * "secondary_scars", "secondary_count", "repair_backlog", "secondary",
 * "recent": [{"sequence", "time" (ISO 8601), "id", "operation", "status",
 * "details"}]} with the `recent` newest audit entries. Off: as check. */
kimera_status kimera_dual_write_stats(kimera_store* store, size_t recent, char** out_json,
                                      char** error);

/* One sweep of every id (repair != 0: also makes the secondary equal the
 * primary). A JSON report {"visited", "differences", "repaired", "clean",
 * "listed": [check objects], "seconds"}. Off: as check. */
kimera_status kimera_dual_write_verify(kimera_store* store, int repair, char** out_json,
                                       char** error);

/* Drops the legacy column families and audit log when the configuration
 * allows it (dual-write off); otherwise KIMERA_INVALID_ARGUMENT saying why. */
kimera_status kimera_dual_write_cleanup(kimera_store* store, char** error);

/* Checks the entropy index against the records (repair != 0: fixes it). A
 * JSON report {"records", "index_entries", "problem_count", "repaired",
 * "problems": [str], "ok"}. */
kimera_status kimera_index_check(kimera_store* store, int repair, char** out_json, char** error);

/* The Prometheus text exposition of this store's metrics. */
kimera_status kimera_metrics_text(kimera_store* store, char** out_text, char** error);

/* ---- Echo forms ---------------------------------------------------------
 * A form crosses as a JSON object {"anchor" (non-empty string), "blob" (any
 * JSON object: the form's flatten()), "domain" (string), "phase" (number),
 * "intensity_sum" (number)}; on the way out it also carries "created_at" and
 * "updated_at" (epoch seconds, float). Times in seconds are epoch seconds;
 * `now_seconds` <= 0 means the store's clock. */

/* Inserts or replaces the form with its anchor, keeping the first
 * created_at and setting updated_at to now. */
kimera_status kimera_form_store(kimera_store* store, const char* form_json, char** error);

/* The form stored under `anchor`. KIMERA_NOT_FOUND when absent. */
kimera_status kimera_form_fetch(kimera_store* store, const char* anchor, char** out_json,
                                char** error);

/* A JSON array of at most `limit` forms, newest updated_at first, of
 * `domain` or (NULL) of all. */
kimera_status kimera_form_list(kimera_store* store, const char* domain, size_t limit,
                               char** out_json_array, char** error);

/* Number of forms, of `domain` or (NULL) of all. */
kimera_status kimera_form_count(kimera_store* store, const char* domain, uint64_t* out,
                                char** error);

/* Deletes the forms created before `now - older_than_seconds`; *deleted
 * (when not NULL) receives how many. */
kimera_status kimera_form_prune(kimera_store* store, double older_than_seconds, double now_seconds,
                                uint64_t* deleted, char** error);

/* Deletes every form of `domain`; *deleted (when not NULL) receives how
 * many. */
kimera_status kimera_form_delete_domain(kimera_store* store, const char* domain, uint64_t* deleted,
                                        char** error);

/* Multiplies every term intensity of every form (and its intensity_sum) by
 * exp(-(now - since) / tau_seconds), since = the form's last decay or its
 * created_at, so repeated calls never compound; *updated receives how many
 * forms changed (when `updated` is not NULL). KIMERA_INVALID_ARGUMENT when
 * tau_seconds is not finite and > 0. */
kimera_status kimera_form_decay(kimera_store* store, double tau_seconds, double now_seconds,
                                uint64_t* updated, char** error);

#ifdef __cplusplus
}
#endif

#endif /* KIMERA_KIMERA_C_H_ */
