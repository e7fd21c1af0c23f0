using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace EncFs.Attack;

/// <summary>The report as a terminal table, JSON for machines, and a self-contained HTML page.</summary>
public static class ReportWriter
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static string ToJson(AttackReport report)
    {
        var findings = new JsonArray();
        foreach (var f in report.Findings)
        {
            findings.Add(new JsonObject
            {
                ["kind"] = f.Kind,
                ["severity"] = AttackAnalyzer.Name(f.Severity),
                ["path"] = f.Path,
                ["evidence"] = f.Evidence,
            });
        }

        var root = new JsonObject { ["findings"] = findings, ["summary"] = report.Summary.DeepClone() };
        return root.ToJsonString(Indented);
    }

    public static string ToTable(AttackReport report, int evidenceWidth = 240)
    {
        var text = new StringBuilder();
        int kindWidth = Math.Max(4, report.Findings.Select(f => f.Kind.Length).DefaultIfEmpty(0).Max());
        text.AppendLine($"{"SEVERITY",-9} {"KIND".PadRight(kindWidth)} PATH / EVIDENCE");
        foreach (var f in report.Findings)
        {
            var evidence = f.Evidence.Length > evidenceWidth ? f.Evidence[..evidenceWidth] + "…" : f.Evidence;
            text.AppendLine($"{AttackAnalyzer.Name(f.Severity).ToUpperInvariant(),-9} {f.Kind.PadRight(kindWidth)} {f.Path}");
            text.AppendLine($"{string.Empty,-9} {string.Empty.PadRight(kindWidth)}   {evidence}");
        }

        text.AppendLine();
        text.AppendLine(Verdict(report));
        return text.ToString();
    }

    public static string Verdict(AttackReport report)
    {
        int leaks = report.Findings.Count(f => f.IsLeak);
        var others = report.Findings.Where(f => !f.IsLeak).ToList();
        var rest = others.Count == 0 ? "no other findings" : $"{others.Count} other finding(s), the worst {AttackAnalyzer.Name(others.Max(f => f.Severity))}";
        if (leaks > 0)
        {
            return $"LEAK: {leaks} plaintext, name or key finding(s); {rest}";
        }

        return report.SearchedForLeaks
            ? $"no plaintext, name or key leak found; {rest}"
            : $"no leak searched for (give --known and/or --keys); {rest}";
    }

    public static string ToHtml(AttackReport report)
    {
        static string E(string? s) => WebUtility.HtmlEncode(s ?? string.Empty);
        var html = new StringBuilder();
        html.Append("""
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><title>efs attack report</title>
            <style>
            body{font-family:system-ui,sans-serif;margin:2em;color:#222}
            table{border-collapse:collapse;width:100%}
            th,td{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top;font-size:14px}
            th{background:#eee}
            td.path{font-family:monospace;word-break:break-all}
            .critical{background:#f8d0d0}.high{background:#fbe0c8}.medium{background:#fff3c4}.low{background:#eef6ff}.info{background:#fff}
            .verdict{font-size:1.2em;font-weight:bold;margin:1em 0}
            </style></head><body>
            <h1>efs attack report</h1>
            """);
        html.Append("<p class=\"verdict\">").Append(E(Verdict(report))).Append("</p>\n<h2>Summary</h2>\n<table>\n");
        foreach (var (key, value) in report.Summary)
        {
            html.Append("<tr><th>").Append(E(key)).Append("</th><td>").Append(E(value is JsonValue v && v.TryGetValue<string>(out var text) ? text : value?.ToJsonString())).Append("</td></tr>\n");
        }

        html.Append("</table>\n<h2>Findings</h2>\n<table>\n<tr><th>severity</th><th>kind</th><th>path</th><th>evidence</th></tr>\n");
        foreach (var f in report.Findings)
        {
            var severity = AttackAnalyzer.Name(f.Severity);
            html.Append("<tr class=\"").Append(severity).Append("\"><td>").Append(severity).Append("</td><td>").Append(E(f.Kind))
                .Append("</td><td class=\"path\">").Append(E(f.Path)).Append("</td><td>").Append(E(f.Evidence)).Append("</td></tr>\n");
        }

        html.Append("</table>\n</body></html>\n");
        return html.ToString();
    }
}
