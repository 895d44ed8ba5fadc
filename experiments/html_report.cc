#include "experiments/html_report.h"

#include <fmt/format.h>

#include "experiments/views.h"

namespace sylva::experiments {
namespace {

// kChartJs, kReportJs, kReportCss (CMakeLists.txt writes them).
#include "experiments/report_assets.inc"

// Before anything else runs: what the page does and what goes wrong, for the
// browser tests and for a user's console.
constexpr const char* kProbe =
    "window.SylvaPage={errors:[],plots:{},rendered:false};"
    "window.addEventListener('error',function(e){window.SylvaPage.errors.push(String(e.message||e))"
    ";});window.addEventListener('unhandledrejection',function(e){window.SylvaPage.errors.push("
    "'unhandled rejection: '+String(e.reason));});";

std::string page(const std::string& title, const std::string& model_json, const std::string& live) {
  std::string out;
  out.reserve(model_json.size() + sizeof(kChartJs) + sizeof(kReportJs) + 4096);
  out += "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
  out += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";
  out += "<title>" + title + "</title>\n<script>";
  out += kProbe;
  out += "</script>\n<style>\n";
  out += kReportCss;
  out += "</style>\n</head>\n<body>\n<header><h1>" + title +
         "</h1><span class=\"where\" id=\"sylva-database\"></span>"
         "<span class=\"where\" id=\"sylva-generated\"></span></header>\n"
         "<main id=\"sylva-root\"></main>\n";
  if (!model_json.empty()) {
    out += "<script type=\"application/json\" id=\"sylva-model\">";
    out += model_json;
    out += "</script>\n";
  }
  out += "<script>\n";
  out += kChartJs;
  out += "\n</script>\n<script>\n";
  out += live;
  out += kReportJs;
  out += "\n</script>\n</body>\n</html>\n";
  return out;
}

}  // namespace

std::string report_page(const nlohmann::json& model) {
  return page("Sylva report", script_safe(model), "");
}

std::string dashboard_page(int interval_ms) {
  return page("Sylva dashboard", "",
              fmt::format("window.SYLVA_LIVE={{interval:{}}};\n", interval_ms));
}

}  // namespace sylva::experiments
