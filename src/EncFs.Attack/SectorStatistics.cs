namespace EncFs.Attack;

/// <summary>Byte statistics of one stored sector.</summary>
public readonly record struct SectorStats(double Entropy, double ChiSquare, bool AllZero)
{
    /// <summary>Below this many bits per byte a 4 KiB sector is not ciphertext (random data gives about 7.95).</summary>
    public const double EntropyThreshold = 7.0;

    /// <summary>Chi-square (255 degrees of freedom) above this is a 5.5-sigma outlier for random bytes.</summary>
    public const double ChiSquareThreshold = 400;

    public static SectorStats Of(ReadOnlySpan<byte> sector)
    {
        Span<int> counts = stackalloc int[256];
        foreach (var b in sector)
        {
            counts[b]++;
        }

        if (counts[0] == sector.Length)
        {
            return new SectorStats(0, double.PositiveInfinity, true);
        }

        double n = sector.Length;
        double expected = n / 256;
        double entropy = 0, chi = 0;
        foreach (var c in counts)
        {
            if (c > 0)
            {
                double p = c / n;
                entropy -= p * Math.Log2(p);
            }

            chi += (c - expected) * (c - expected) / expected;
        }

        return new SectorStats(entropy, chi, false);
    }

    public bool LowEntropy => !AllZero && Entropy < EntropyThreshold;

    public bool ChiSquareOutlier => !AllZero && ChiSquare > ChiSquareThreshold;
}
