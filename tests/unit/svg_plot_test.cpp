// tools/skein/svg_plot: tick choice, labels, escaping and the document's structure.
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "svg_plot.h"

namespace skein::cli {
namespace {

std::vector<double> values(const std::vector<Tick>& ticks) {
  std::vector<double> v;
  for (const Tick& t : ticks) v.push_back(t.value);
  return v;
}

std::vector<std::string> labels(const std::vector<Tick>& ticks) {
  std::vector<std::string> v;
  for (const Tick& t : ticks) v.push_back(t.label);
  return v;
}

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

TEST_CASE("svg_plot: linear ticks are nice multiples inside the range") {
  CHECK(values(axis_ticks(0, 10, AxisScale::kLinear, 6, false)) ==
        std::vector<double>{0, 2, 4, 6, 8, 10});
  CHECK(labels(axis_ticks(0, 1, AxisScale::kLinear, 5, false)) ==
        std::vector<std::string>{"0", "0.25", "0.5", "0.75", "1"});
  CHECK(values(axis_ticks(-3, 7.5, AxisScale::kLinear, 7, false)) ==
        std::vector<double>{-2, 0, 2, 4, 6});
  // Reversed bounds are accepted; a degenerate range gives one tick.
  CHECK(values(axis_ticks(10, 0, AxisScale::kLinear, 6, false)).size() == 6);
  CHECK(values(axis_ticks(3, 3, AxisScale::kLinear, 6, false)) == std::vector<double>{3});
  // Many ranges: at most max_ticks, at least two, all inside, evenly spaced.
  for (double lo : {-1e5, -0.37, 0.0, 0.001, 12.5}) {
    for (double span : {1e-3, 0.9, 7.0, 333.0, 1e6}) {
      for (int max_ticks : {3, 5, 8}) {
        const auto ticks = values(axis_ticks(lo, lo + span, AxisScale::kLinear, max_ticks, false));
        CAPTURE(lo);
        CAPTURE(span);
        CAPTURE(max_ticks);
        REQUIRE(ticks.size() >= 2);
        CHECK(static_cast<int>(ticks.size()) <= max_ticks);
        CHECK(ticks.front() >= lo - 1e-9 * span);
        CHECK(ticks.back() <= lo + span + 1e-9 * span);
        for (size_t i = 2; i < ticks.size(); ++i) {
          CHECK(std::fabs((ticks[i] - ticks[i - 1]) - (ticks[1] - ticks[0])) <
                1e-9 * (span + std::fabs(lo)));
        }
      }
    }
  }
}

TEST_CASE("svg_plot: log ticks are 1-2-5 or powers of ten, or powers of two") {
  CHECK(labels(axis_ticks(0.9, 60, AxisScale::kLog, 7, false)) ==
        std::vector<std::string>{"1", "2", "5", "10", "20", "50"});
  CHECK(labels(axis_ticks(0.5, 2e6, AxisScale::kLog, 8, false)) ==
        std::vector<std::string>{"1", "10", "100", "1000", "10k", "100k", "1M"});
  // Twelve decades: every second power of ten.
  CHECK(labels(axis_ticks(1e-6, 1e6, AxisScale::kLog, 8, false)) ==
        std::vector<std::string>{"1e-6", "1e-4", "0.01", "1", "100", "10k", "1M"});
  CHECK(labels(axis_ticks(1000, 1100000, AxisScale::kLog, 11, true)) ==
        std::vector<std::string>{"1K", "2K", "4K", "8K", "16K", "32K", "64K", "128K", "256K",
                                 "512K", "1M"});
  CHECK(labels(axis_ticks(1000, 1100000, AxisScale::kLog, 6, true)) ==
        std::vector<std::string>{"1K", "4K", "16K", "64K", "256K", "1M"});
  CHECK(labels(axis_ticks(7, 300, AxisScale::kLog, 7, true)) ==
        std::vector<std::string>{"8", "16", "32", "64", "128", "256"});
  // Under a factor of five: 1-2-5 would give two ticks, linear ones instead.
  CHECK(values(axis_ticks(270, 980, AxisScale::kLog, 7, false)) ==
        std::vector<double>{400, 600, 800});
  // Less than a factor of two: no power of two fits twice, linear ticks instead.
  const auto narrow = values(axis_ticks(3, 5, AxisScale::kLog, 5, true));
  CHECK(narrow.size() >= 2);
  CHECK(narrow.front() >= 3);
  CHECK(narrow.back() <= 5);
  CHECK_THROWS(axis_ticks(0, 10, AxisScale::kLog, 5, false));
}

TEST_CASE("svg_plot: tick labels") {
  CHECK(format_tick(0) == "0");
  CHECK(format_tick(1) == "1");
  CHECK(format_tick(2.5) == "2.5");
  CHECK(format_tick(0.05) == "0.05");
  CHECK(format_tick(0.00125) == "0.00125");
  CHECK(format_tick(1000) == "1000");
  CHECK(format_tick(1234.6) == "1235");
  CHECK(format_tick(20000) == "20k");
  CHECK(format_tick(1.5e6) == "1.5M");
  CHECK(format_tick(3e9) == "3G");
  CHECK(format_tick(1e-5) == "1e-5");
  CHECK(format_tick(2.5e-4) == "2.5e-4");
  CHECK(format_tick(-40) == "-40");
}

TEST_CASE("svg_plot: text is escaped") {
  CHECK(xml_escape("a<b & \"c\" 'd'>") == "a&lt;b &amp; &quot;c&quot; &apos;d&apos;&gt;");
  CHECK(xml_escape(std::string("x\x01y\tz", 5)) == "x?y\tz");
}

TEST_CASE("svg_plot: one group per series, lines broken at points a log axis cannot show") {
  Panel a;
  a.title = "latency <ms>";
  a.x = {"n", AxisScale::kLog, true};
  a.y = {"ms", AxisScale::kLog, false};
  a.series.push_back({"exact & co", {1024, 4096, 16384}, {1, 16, 256}, {}});
  a.series.push_back({"skeinformer", {1024, 4096, 16384}, {1, 0, 4}, {0.1, 0.1, 0.1}});
  Panel b = a;
  b.title = "memory";
  const std::string svg = render_svg("profile \"test\"", {a, b});
  CHECK(svg.rfind("<?xml", 0) == 0);
  CHECK(count(svg, "<g class=\"panel\"") == 2);
  CHECK(count(svg, "<g class=\"series\"") == 4);
  CHECK(count(svg, "data-name=\"exact &amp; co\"") == 2);
  CHECK(svg.find("latency &lt;ms&gt;") != std::string::npos);
  // skeinformer's zero breaks its line into two single points: no polyline;
  // exact's three points make one polyline per panel.
  CHECK(count(svg, "<polyline") == 2);
  // Legend: each name once.
  CHECK(count(svg, ">skeinformer</text>") == 1);
  CHECK(count(svg, "<circle") == 2 * (3 + 2) + 2);
}

}  // namespace
}  // namespace skein::cli
