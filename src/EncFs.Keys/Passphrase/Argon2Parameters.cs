using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;

namespace EncFs.Keys.Passphrase;

/// <summary>Argon2id cost parameters, stored in the volume header with the salt.</summary>
public sealed record Argon2Parameters(int MemoryKiB, int Iterations, int Parallelism)
{
    public const int MinMemoryKiB = 19 * 1024;
    public const int DefaultMemoryKiB = 64 * 1024;

    /// <summary>Cheap parameters for tests only: never for real volumes.</summary>
    public static Argon2Parameters ForTests { get; } = new(MinMemoryKiB / 4, 1, 1);

    /// <summary>
    /// Finds the cost that takes about <paramref name="target"/> on this machine: memory first
    /// (64 MiB, halved down to 19 MiB on slow machines), then the iteration count.
    /// </summary>
    public static Argon2Parameters Calibrate(TimeSpan target)
    {
        int parallelism = Math.Clamp(Environment.ProcessorCount, 1, 4);
        int memory = DefaultMemoryKiB;
        var salt = new byte[16];
        Argon2idKdf.Derive("warm-up"u8, salt, ForTests).Dispose();
        while (true)
        {
            var trial = new Argon2Parameters(memory, 1, parallelism);
            var clock = Stopwatch.StartNew();
            Argon2idKdf.Derive("calibration"u8, salt, trial).Dispose();
            var elapsed = clock.Elapsed;
            if (elapsed > target && memory / 2 >= MinMemoryKiB)
            {
                memory /= 2;
                continue;
            }

            int iterations = Math.Clamp((int)Math.Round(target / elapsed), 1, 64);
            return trial with { Iterations = iterations };
        }
    }

    public JsonObject ToJson(byte[] salt) => new()
    {
        ["salt"] = Convert.ToBase64String(salt),
        ["memoryKiB"] = MemoryKiB,
        ["iterations"] = Iterations,
        ["parallelism"] = Parallelism,
    };

    public static (Argon2Parameters Parameters, byte[] Salt) FromJson(JsonObject? json)
    {
        try
        {
            var parameters = new Argon2Parameters(
                json!["memoryKiB"]!.GetValue<int>(),
                json["iterations"]!.GetValue<int>(),
                json["parallelism"]!.GetValue<int>());
            var salt = Convert.FromBase64String(json["salt"]!.GetValue<string>());
            if (parameters.MemoryKiB < 8 * parameters.Parallelism || parameters.Iterations < 1 || parameters.Parallelism is < 1 or > 255 || salt.Length < 8)
            {
                throw new InvalidDataException("Argon2id parameters out of range");
            }

            return (parameters, salt);
        }
        catch (Exception e) when (e is NullReferenceException or FormatException or InvalidOperationException)
        {
            throw new InvalidDataException("the passphrase key source in the volume header is damaged (argon2id parameters)", e);
        }
    }

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"argon2id m={MemoryKiB}KiB t={Iterations} p={Parallelism}");
}
