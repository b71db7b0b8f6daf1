using System;
using System.Collections.Generic;
using System.IO;
using System.Text;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

/// <summary>
/// Writes a copy of an ELF64 little-endian shared library in which one version requirement
/// (a <c>Vernaux</c> entry of <c>SHT_GNU_verneed</c>) carries <c>VER_FLG_WEAK</c>.
/// </summary>
/// <remarks>
/// glibc's loader treats a missing weak version as non-fatal, so the library loads against an older
/// libstdc++; the symbols bound to that version must then come from elsewhere (the compat shim). To make
/// sure nothing else silently goes unresolved, the task refuses to patch when a dynamic symbol other than
/// <see cref="AllowedSymbols"/> requires the version.
/// </remarks>
public class MarkVersionNeedWeak : Task
{
    private const uint ShtDynsym = 11;
    private const uint ShtGnuVerneed = 0x6ffffffe;
    private const uint ShtGnuVersym = 0x6fffffff;
    private const ushort VerFlgWeak = 0x2;

    /// <summary>The library to read; it is never modified.</summary>
    [Required]
    public string SourceFile { get; set; } = "";

    /// <summary>Where the patched copy goes (replaced atomically, so a hard link to the source stays intact).</summary>
    [Required]
    public string DestinationFile { get; set; } = "";

    /// <summary>The needed file the version belongs to, such as libstdc++.so.6.</summary>
    [Required]
    public string NeededFile { get; set; } = "";

    /// <summary>The version to mark weak, such as GLIBCXX_3.4.32.</summary>
    [Required]
    public string Version { get; set; } = "";

    /// <summary>The only dynamic symbols allowed to require <see cref="Version"/>.</summary>
    [Required]
    public string[] AllowedSymbols { get; set; } = Array.Empty<string>();

    public override bool Execute()
    {
        byte[] elf = File.ReadAllBytes(SourceFile);
        if (!BitConverter.IsLittleEndian || elf.Length < 64 || elf[0] != 0x7f || elf[1] != (byte)'E' || elf[2] != (byte)'L' || elf[3] != (byte)'F'
            || elf[4] != 2 || elf[5] != 1)
        {
            Log.LogError($"{SourceFile} is not a little-endian ELF64 file.");
            return false;
        }

        var sections = ReadSections(elf);
        int verneedIndex = sections.FindIndex(s => s.Type == ShtGnuVerneed);
        if (verneedIndex < 0)
        {
            Log.LogError($"{SourceFile} has no version requirements section.");
            return false;
        }

        Section verneed = sections[verneedIndex];
        Section strings = sections[(int)verneed.Link];
        int patched = 0;
        var versionIndices = new HashSet<ushort>();
        long need = (long)verneed.Offset;
        for (uint n = 0; n < verneed.Info; n++)
        {
            ushort count = U16(elf, need + 2);
            string file = CString(elf, strings.Offset + U32(elf, need + 4));
            long aux = need + U32(elf, need + 8);
            for (int a = 0; a < count; a++)
            {
                string name = CString(elf, strings.Offset + U32(elf, aux + 8));
                if (file == NeededFile && name == Version)
                {
                    W16(elf, aux + 4, (ushort)(U16(elf, aux + 4) | VerFlgWeak));
                    versionIndices.Add((ushort)(U16(elf, aux + 6) & 0x7fff));
                    patched++;
                }
                aux += U32(elf, aux + 12);
            }
            need += U32(elf, need + 12);
        }

        if (patched == 0)
        {
            Log.LogError($"{SourceFile} does not require {Version} from {NeededFile}; nothing to patch.");
            return false;
        }

        foreach (string symbol in SymbolsRequiring(elf, sections, versionIndices))
        {
            if (Array.IndexOf(AllowedSymbols, symbol) < 0)
            {
                Log.LogError($"{SourceFile}: symbol {symbol} also requires {Version}; the compatibility shim does not provide it.");
                return false;
            }
        }

        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(DestinationFile)));
        string temporary = DestinationFile + ".tmp";
        File.WriteAllBytes(temporary, elf);
        if (File.Exists(DestinationFile))
            File.Delete(DestinationFile);
        File.Move(temporary, DestinationFile);
        Log.LogMessage(MessageImportance.Normal, $"Wrote {DestinationFile} with {Version} marked weak.");
        return true;
    }

    private static IEnumerable<string> SymbolsRequiring(byte[] elf, List<Section> sections, HashSet<ushort> versionIndices)
    {
        int versymIndex = sections.FindIndex(s => s.Type == ShtGnuVersym);
        if (versymIndex < 0)
            yield break;
        Section versym = sections[versymIndex];
        Section dynsym = sections[(int)versym.Link];
        if (dynsym.Type != ShtDynsym)
            yield break;
        Section names = sections[(int)dynsym.Link];
        long count = (long)(dynsym.Size / 24);
        for (long i = 0; i < count; i++)
        {
            ushort version = (ushort)(U16(elf, (long)versym.Offset + 2 * i) & 0x7fff);
            if (versionIndices.Contains(version))
                yield return CString(elf, names.Offset + U32(elf, (long)dynsym.Offset + 24 * i));
        }
    }

    private static List<Section> ReadSections(byte[] elf)
    {
        long table = (long)U64(elf, 0x28);
        ushort entrySize = U16(elf, 0x3a);
        ushort count = U16(elf, 0x3c);
        var sections = new List<Section>(count);
        for (int i = 0; i < count; i++)
        {
            long h = table + (long)i * entrySize;
            sections.Add(new Section(U32(elf, h + 4), U64(elf, h + 0x18), U64(elf, h + 0x20), U32(elf, h + 0x28), U32(elf, h + 0x2c)));
        }
        return sections;
    }

    private sealed class Section
    {
        public Section(uint type, ulong offset, ulong size, uint link, uint info)
        {
            Type = type;
            Offset = offset;
            Size = size;
            Link = link;
            Info = info;
        }

        public uint Type { get; }
        public ulong Offset { get; }
        public ulong Size { get; }
        public uint Link { get; }
        public uint Info { get; }
    }

    private static ushort U16(byte[] b, long at) => BitConverter.ToUInt16(b, checked((int)at));
    private static uint U32(byte[] b, long at) => BitConverter.ToUInt32(b, checked((int)at));
    private static ulong U64(byte[] b, long at) => BitConverter.ToUInt64(b, checked((int)at));
    private static void W16(byte[] b, long at, ushort value)
    {
        b[checked((int)at)] = (byte)value;
        b[checked((int)at) + 1] = (byte)(value >> 8);
    }

    private static string CString(byte[] b, ulong at)
    {
        int start = checked((int)at);
        int end = Array.IndexOf(b, (byte)0, start);
        return Encoding.ASCII.GetString(b, start, end - start);
    }
}
