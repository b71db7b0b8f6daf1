using System;
using System.IO;
using System.Reflection;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

/// <summary>
/// Copies embedded resources out of a .NET assembly into files. The assembly is opened for its manifest resources
/// only: no type of it is touched, so none of its code runs.
/// </summary>
public sealed class ExtractResources : Task
{
    /// <summary>The assembly holding the resources.</summary>
    [Required]
    public string Assembly { get; set; } = "";

    /// <summary>The manifest resource names, in the order of <see cref="Destinations"/>.</summary>
    [Required]
    public string[] Resources { get; set; } = Array.Empty<string>();

    /// <summary>The file each resource is written to.</summary>
    [Required]
    public string[] Destinations { get; set; } = Array.Empty<string>();

    public override bool Execute()
    {
        if (Resources.Length != Destinations.Length)
        {
            Log.LogError("ExtractResources: Resources and Destinations must have the same length.");
            return false;
        }

        Assembly assembly = System.Reflection.Assembly.LoadFrom(Assembly);
        for (int i = 0; i < Resources.Length; i++)
        {
            using Stream resource = assembly.GetManifestResourceStream(Resources[i]);
            if (resource is null)
            {
                Log.LogError($"ExtractResources: {Assembly} has no embedded resource named {Resources[i]}.");
                return false;
            }

            Directory.CreateDirectory(Path.GetDirectoryName(Destinations[i])!);
            // Projects built in parallel may extract into the same folder at once: each writes its own partial file and
            // renames it into place (atomic), so a reader sees either no file or a whole one, never a torn one.
            string partial = $"{Destinations[i]}.{Guid.NewGuid():N}.partial";
            using (var file = File.Create(partial))
                resource.CopyTo(file, 1 << 20);
            try
            {
                File.Move(partial, Destinations[i]);
            }
            catch (IOException) when (File.Exists(Destinations[i]))
            {
                File.Replace(partial, Destinations[i], destinationBackupFileName: null);
            }
            Log.LogMessage(MessageImportance.Normal, $"Extracted {Resources[i]} ({resource.Length:N0} bytes) to {Destinations[i]}.");
        }

        return true;
    }
}
