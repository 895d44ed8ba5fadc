// The pages of `sylva report` and `sylva dashboard`: one self-contained HTML
// file each, with Chart.js (Debian's libjs-chart.js, embedded at build time),
// the page's script and style inlined, so that a report opens from disk,
// offline, and the dashboard serves nothing from elsewhere.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace sylva::experiments {

// The report: `model` (views.h, report_model) inlined as JSON that no text in
// it can break out of (script_safe).
std::string report_page(const nlohmann::json& model);

// The dashboard's page: the same script, fetching its model from the
// server's api/ endpoints every `interval_ms`.
std::string dashboard_page(int interval_ms);

}  // namespace sylva::experiments
