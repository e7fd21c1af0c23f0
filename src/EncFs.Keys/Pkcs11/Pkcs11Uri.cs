using System.Globalization;
using System.Text;

namespace EncFs.Keys.Pkcs11;

/// <summary>
/// An RFC 7512 PKCS#11 URI naming the KEK: <c>pkcs11:token=T;object=LABEL[;id=%01%02]?module-path=/path/lib.so[&amp;pin-source=file:/f]</c>.
/// Path attributes: token, object (the key label), id, type (secret-key only), serial, and the
/// other RFC 7512 path attributes (accepted, not used). Query attributes: module-path,
/// pin-source (file: URI or absolute path), pin-value. The PIN attributes are never stored:
/// <see cref="ToStorableString"/> drops them.
/// </summary>
public sealed class Pkcs11Uri
{
    public const string Scheme = "pkcs11:";

    private static readonly HashSet<string> KnownPath = new(StringComparer.Ordinal)
    {
        "token", "object", "id", "type", "serial", "manufacturer", "model",
        "library-manufacturer", "library-description", "library-version",
        "slot-manufacturer", "slot-description", "slot-id",
    };

    private static readonly HashSet<string> KnownQuery = new(StringComparer.Ordinal)
    {
        "module-path", "module-name", "pin-source", "pin-value",
    };

    private Pkcs11Uri(IReadOnlyList<KeyValuePair<string, byte[]>> path, IReadOnlyList<KeyValuePair<string, byte[]>> query)
    {
        Path = path;
        Query = query;
    }

    /// <summary>The path attributes in order, values percent-decoded.</summary>
    public IReadOnlyList<KeyValuePair<string, byte[]>> Path { get; }

    /// <summary>The query attributes in order, values percent-decoded.</summary>
    public IReadOnlyList<KeyValuePair<string, byte[]>> Query { get; }

    public string? Token => Text(Path, "token");

    /// <summary>The key's label (CKA_LABEL).</summary>
    public string? Object => Text(Path, "object");

    /// <summary>The key's CKA_ID, if given.</summary>
    public byte[]? Id => Find(Path, "id");

    public string? Serial => Text(Path, "serial");

    public string? ObjectType => Text(Path, "type");

    public string? ModulePath => Text(Query, "module-path");

    public string? PinSource => Text(Query, "pin-source");

    /// <summary>The PIN given inline (pin-value); never stored.</summary>
    public byte[]? PinValue => Find(Query, "pin-value");

    public bool HasPin => PinValue is not null || PinSource is not null;

    /// <summary>Parses, or throws <see cref="FormatException"/> saying what is wrong.</summary>
    public static Pkcs11Uri Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (!text.StartsWith(Scheme, StringComparison.OrdinalIgnoreCase))
        {
            throw new FormatException($"a PKCS#11 URI starts with '{Scheme}'");
        }

        var rest = text[Scheme.Length..];
        if (rest.Contains('#', StringComparison.Ordinal))
        {
            throw new FormatException("a PKCS#11 URI has no fragment ('#')");
        }

        int question = rest.IndexOf('?', StringComparison.Ordinal);
        var pathPart = question < 0 ? rest : rest[..question];
        var queryPart = question < 0 ? string.Empty : rest[(question + 1)..];
        var path = ParseAttributes(pathPart, ';', KnownPath, "path");
        var query = ParseAttributes(queryPart, '&', KnownQuery, "query");
        var uri = new Pkcs11Uri(path, query);
        if (uri.ObjectType is { } type && type != "secret-key")
        {
            throw new FormatException($"the KEK is a secret key: type={type} is not allowed (use type=secret-key or leave it out)");
        }

        if (Find(query, "module-name") is not null)
        {
            throw new FormatException("module-name is not supported: give module-path=/path/to/module.so");
        }

        if (uri.PinSource is { } source && ResolvePinSourcePath(source) is null)
        {
            throw new FormatException($"pin-source '{source}' is not a file: URI or an absolute path");
        }

        return uri;
    }

    public static bool TryParse(string text, out Pkcs11Uri? uri, out string? error)
    {
        try
        {
            uri = Parse(text);
            error = null;
            return true;
        }
        catch (FormatException e)
        {
            uri = null;
            error = e.Message;
            return false;
        }
    }

    /// <summary>The file named by pin-source (file:/p, file:///p or /p), or null for any other form.</summary>
    public static string? ResolvePinSourcePath(string source)
    {
        if (source.StartsWith("file://", StringComparison.OrdinalIgnoreCase))
        {
            var rest = source["file://".Length..];
            return rest.StartsWith('/') ? rest : null;
        }

        if (source.StartsWith("file:", StringComparison.OrdinalIgnoreCase))
        {
            var rest = source["file:".Length..];
            return rest.StartsWith('/') ? rest : null;
        }

        return source.StartsWith('/') ? source : null;
    }

    /// <summary>The URI without pin-source and pin-value: what the volume header keeps.</summary>
    public string ToStorableString() => Format(includePin: false);

    /// <summary>The URI as given, PIN attributes included: never print or store this.</summary>
    public string ToSecretString() => Format(includePin: true);

    public override string ToString() => ToStorableString();

    private string Format(bool includePin)
    {
        var builder = new StringBuilder(Scheme);
        builder.AppendJoin(';', Path.Select(a => a.Key + "=" + (a.Key == "id" ? EncodeAll(a.Value) : Encode(a.Value, inQuery: false))));
        var query = Query.Where(a => includePin || (a.Key != "pin-source" && a.Key != "pin-value")).ToList();
        if (query.Count > 0)
        {
            builder.Append('?').AppendJoin('&', query.Select(a => a.Key + "=" + Encode(a.Value, inQuery: true)));
        }

        return builder.ToString();
    }

    private static List<KeyValuePair<string, byte[]>> ParseAttributes(string part, char separator, HashSet<string> known, string where)
    {
        var result = new List<KeyValuePair<string, byte[]>>();
        if (part.Length == 0)
        {
            return result;
        }

        foreach (var attribute in part.Split(separator))
        {
            int equals = attribute.IndexOf('=', StringComparison.Ordinal);
            if (equals <= 0)
            {
                throw new FormatException($"'{attribute}' in the {where} of the PKCS#11 URI is not name=value");
            }

            var name = attribute[..equals];
            if (!known.Contains(name))
            {
                throw new FormatException($"unknown {where} attribute '{name}' in the PKCS#11 URI");
            }

            if (result.Exists(a => a.Key == name))
            {
                throw new FormatException($"the PKCS#11 URI gives '{name}' twice");
            }

            result.Add(new(name, Decode(attribute[(equals + 1)..], name)));
        }

        return result;
    }

    private static byte[] Decode(string value, string name)
    {
        var bytes = new List<byte>(value.Length);
        for (int i = 0; i < value.Length; i++)
        {
            char c = value[i];
            if (c == '%')
            {
                if (i + 2 >= value.Length)
                {
                    throw new FormatException($"a truncated percent escape in '{name}' of the PKCS#11 URI");
                }

                if (!byte.TryParse(value.AsSpan(i + 1, 2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var b))
                {
                    throw new FormatException($"a bad percent escape in '{name}' of the PKCS#11 URI");
                }

                bytes.Add(b);
                i += 2;
            }
            else if (c > 0x7e || c < 0x21)
            {
                throw new FormatException($"'{name}' of the PKCS#11 URI holds a character that must be percent-encoded");
            }
            else
            {
                bytes.Add((byte)c);
            }
        }

        return bytes.ToArray();
    }

    /// <summary>The id is binary: every byte as %XX, as RFC 7512's examples write it.</summary>
    private static string EncodeAll(byte[] value) =>
        string.Concat(value.Select(b => "%" + b.ToString("X2", CultureInfo.InvariantCulture)));

    private static string Encode(byte[] value, bool inQuery)
    {
        var builder = new StringBuilder(value.Length);
        foreach (var b in value)
        {
            char c = (char)b;
            if (char.IsAsciiLetterOrDigit(c) || c is '-' or '.' or '_' or '~' or ':' or '[' or ']' or '@' or '!' or '$' or '\'' or '(' or ')' or '*' or '+' or ',' or '=' || (inQuery && c is '/' or '?'))
            {
                builder.Append(c);
            }
            else
            {
                builder.Append('%').Append(b.ToString("X2", CultureInfo.InvariantCulture));
            }
        }

        return builder.ToString();
    }

    private static byte[]? Find(IReadOnlyList<KeyValuePair<string, byte[]>> attributes, string name)
    {
        foreach (var attribute in attributes)
        {
            if (attribute.Key == name)
            {
                return attribute.Value;
            }
        }

        return null;
    }

    private static string? Text(IReadOnlyList<KeyValuePair<string, byte[]>> attributes, string name) =>
        Find(attributes, name) is { } bytes ? Encoding.UTF8.GetString(bytes) : null;
}
