// kimera decay apply [--now ISO8601]: applies decay to every identity.
// kimera decay sweep [--now ISO8601]: one decay sweep and verification, timed.
// kimera verify-decay [--sample N] [--now ISO8601]: verifies decay on a sample;
// prints every failed check with the id and the numbers; exit 1 when any failed.
#include <cstdio>
#include <memory>
#include <string>

#include "commands.h"
#include "kimera/config_loader.h"
#include "kimera/decay_sweep.h"
#include "kimera/identity_json.h"
#include "store_opener.h"

namespace kimera_cli {
namespace {

struct DecayOptions {
  std::string now;         // Default empty: the system clock.
  std::size_t sample = 0;  // Default 0: the configured verification_sample.
};

// Opens the configured stack for `access`; prints the error and returns its
// exit code on failure, else 0.
int OpenStack(const GlobalOptions& global, Access access, kimera::KimeraConfig* config,
              std::unique_ptr<kimera::EntropyStore>* store) {
  if (kimera::Status s = OpenEntropyStoreForCli(global, access, store, config); !s.ok()) {
    return ReportOpenFailure(global, s);
  }
  return kExitOk;
}

int ParseNow(const std::string& text, kimera::Micros* now) {
  if (text.empty()) {
    *now = kimera::SystemNow();
    return kExitOk;
  }
  if (kimera::Status s = kimera::ParseTimestamp(text, now); !s.ok()) {
    PrintError("--now: " + s.ToString());
    return kExitUsage;
  }
  return kExitOk;
}

int PrintVerification(const kimera::DecayVerificationReport& report) {
  std::printf(
      "verified %zu identities (sampled %zu, %zu no-compounding scenarios, %zu against "
      "the decay ledger) as of %s in %.3f s\n",
      report.verified, report.sampled, report.scenarios, report.ledger_checked,
      kimera::FormatTimestamp(report.now).c_str(), report.seconds);
  if (report.correlation) std::printf("age/decay correlation r = %.12f\n", *report.correlation);
  for (std::size_t c = 0; c < kimera::kDecayCheckCount; ++c) {
    const auto check = static_cast<kimera::DecayCheck>(c);
    std::printf("  %-15s %s", kimera::DecayCheckName(check),
                report.passed(check) ? "pass" : "FAIL");
    if (!report.passed(check)) {
      std::printf(" (%llu failures)", static_cast<unsigned long long>(report.failures_by_check[c]));
    }
    std::printf("\n");
  }
  for (const auto& failure : report.failures) std::printf("FAIL %s\n", failure.ToString().c_str());
  const std::uint64_t listed = report.failures.size();
  std::uint64_t total = 0;
  for (std::uint64_t n : report.failures_by_check) total += n;
  if (total > listed) {
    std::printf("... and %llu more failures\n", static_cast<unsigned long long>(total - listed));
  }
  std::fflush(stdout);
  return report.ok() ? kExitOk : kExitBadInput;
}

int RunVerify(const GlobalOptions& global, const DecayOptions& options) {
  kimera::Micros now = 0;
  if (int code = ParseNow(options.now, &now); code != kExitOk) return code;
  kimera::KimeraConfig config;
  std::unique_ptr<kimera::EntropyStore> store;
  if (int code = OpenStack(global, Access::kRead, &config, &store); code != kExitOk) return code;
  kimera::DecayVerifierOptions verifier_options;
  verifier_options.sample_size =
      options.sample > 0 ? options.sample : config.decay.verification_sample;
  std::unique_ptr<kimera::DecayVerifier> verifier;
  kimera::DecayVerificationReport report;
  kimera::Status s = kimera::DecayVerifier::Open(*store, verifier_options, &verifier);
  if (s.ok()) s = verifier->Run(now, &report);
  if (!s.ok()) {
    PrintError(s.ToString());
    return ExitCodeFor(s) == kExitBadInput ? kExitStorage : ExitCodeFor(s);
  }
  return PrintVerification(report);
}

int RunApply(const GlobalOptions& global, const DecayOptions& options) {
  kimera::Micros now = 0;
  if (int code = ParseNow(options.now, &now); code != kExitOk) return code;
  kimera::KimeraConfig config;
  std::unique_ptr<kimera::EntropyStore> store;
  if (int code = OpenStack(global, Access::kWrite, &config, &store); code != kExitOk) return code;
  std::unique_ptr<kimera::DecayVerifier> verifier;
  kimera::DecayApplyResult result;
  kimera::Status s = kimera::DecayVerifier::Open(*store, {}, &verifier);
  if (s.ok()) s = kimera::ApplyDecayAll(*store, *verifier, now, config.decay.chunk_size, &result);
  if (s.ok()) s = store->Sync();
  for (const auto& e : result.errors) PrintError(e);
  if (!s.ok()) {
    PrintError(s.ToString());
    return kExitStorage;
  }
  std::printf("decay applied as of %s: %llu identities, %llu skipped, %llu failed in %.3f s\n",
              kimera::FormatTimestamp(now).c_str(), static_cast<unsigned long long>(result.applied),
              static_cast<unsigned long long>(result.skipped),
              static_cast<unsigned long long>(result.failed), result.seconds);
  std::fflush(stdout);
  return result.failed == 0 ? kExitOk : kExitBadInput;
}

int RunSweep(const GlobalOptions& global, const DecayOptions& options) {
  kimera::Micros now = 0;
  if (int code = ParseNow(options.now, &now); code != kExitOk) return code;
  kimera::KimeraConfig config;
  std::unique_ptr<kimera::EntropyStore> store;
  if (int code = OpenStack(global, Access::kWrite, &config, &store); code != kExitOk) return code;
  kimera::DecaySweepOptions sweep_options;
  sweep_options.config = config.decay;
  if (options.sample > 0) sweep_options.config.verification_sample = options.sample;
  sweep_options.config.sweep_duty_cycle = 1;  // Alone on the database: no one to yield to.
  std::unique_ptr<kimera::DecaySweep> sweep;
  kimera::DecaySweepResult result;
  kimera::Status s = kimera::DecaySweep::Open(*store, sweep_options, &sweep);
  if (s.ok()) s = sweep->RunOnce(now, &result);
  if (!s.ok()) {
    PrintError(s.ToString());
    return kExitStorage;
  }
  std::printf("swept %llu identities in %llu chunks in %.3f s\n",
              static_cast<unsigned long long>(result.identities),
              static_cast<unsigned long long>(result.chunks), result.seconds);
  return result.verified ? PrintVerification(result.verification) : kExitOk;
}

void AddNowOption(CLI::App* cmd, DecayOptions* options) {
  cmd->add_option("--now", options->now, "Time to decay to, ISO-8601 (default: now)")
      ->type_name("ISO8601");
}

}  // namespace

void AddDecayCommands(CLI::App& app, const GlobalOptions& global) {
  auto options = std::make_shared<DecayOptions>();
  CLI::App* decay = app.add_subcommand("decay", "Apply decay or run a decay sweep.");
  decay->require_subcommand(1);
  CLI::App* apply = decay->add_subcommand(
      "apply",
      "Multiply every identity's weight and term intensities by the decay since its last "
      "application (exit 1 when some identity failed).");
  AddNowOption(apply, options.get());
  SetCommandBody(apply, [&global, options] { return RunApply(global, *options); });
  CLI::App* sweep = decay->add_subcommand(
      "sweep", "Run one decay sweep and its verification and print how long they took.");
  AddNowOption(sweep, options.get());
  sweep->add_option("--sample", options->sample,
                    "Identities to verify (default: [decay] "
                    "verification_sample)");
  SetCommandBody(sweep, [&global, options] { return RunSweep(global, *options); });

  CLI::App* verify = app.add_subcommand(
      "verify-decay",
      "Verify decay on a sample: print every failed check with the id and numbers (exit 1 when "
      "any check failed).");
  AddNowOption(verify, options.get());
  verify
      ->add_option("--sample", options->sample,
                   "Identities to verify (default: [decay] verification_sample, 1000)")
      ->type_name("N");
  SetCommandBody(verify, [&global, options] { return RunVerify(global, *options); });
}

}  // namespace kimera_cli
