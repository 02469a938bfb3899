using System.Diagnostics;
using System.Globalization;
using System.Management.Automation;
using System.Management.Automation.Host;
using System.Security;

namespace VdpaPS.TestTools;

/// <summary>
/// A PowerShell host that answers every confirmation prompt Yes, but first starts a process that holds a file open: what a
/// VM starting on a device while a -Confirm prompt is open does. Lab tests run a cmdlet in a runspace on this host to see
/// that the usage check is made again after ShouldProcess. Everything else the host is asked is dropped.
/// </summary>
public sealed class HoldingConfirmHost : PSHost
{
    private readonly Ui _ui;

    /// <param name="path">The file each prompt has held before it answers.</param>
    /// <param name="seconds">How long a holder lives: bounded, so a change that waits for it ends.</param>
    public HoldingConfirmHost(string path, int seconds) => _ui = new Ui(path, seconds);

    /// <summary>How many confirmation prompts were answered.</summary>
    public int Prompts => _ui.Prompts;

    /// <summary>The holders started, one per prompt.</summary>
    public IReadOnlyList<Process> Holders => _ui.Holders;

    /// <summary>Ends every holder still running and waits for it.</summary>
    public void StopHolders()
    {
        foreach (var holder in _ui.Holders.Where(h => !h.HasExited))
        {
            holder.Kill();
            holder.WaitForExit();
        }
    }

    /// <inheritdoc/>
    public override CultureInfo CurrentCulture => CultureInfo.InvariantCulture;

    /// <inheritdoc/>
    public override CultureInfo CurrentUICulture => CultureInfo.InvariantCulture;

    /// <inheritdoc/>
    public override Guid InstanceId { get; } = Guid.NewGuid();

    /// <inheritdoc/>
    public override string Name => nameof(HoldingConfirmHost);

    /// <inheritdoc/>
    public override PSHostUserInterface UI => _ui;

    /// <inheritdoc/>
    public override Version Version => new(1, 0);

    /// <inheritdoc/>
    public override void EnterNestedPrompt() => throw new NotSupportedException();

    /// <inheritdoc/>
    public override void ExitNestedPrompt() => throw new NotSupportedException();

    /// <inheritdoc/>
    public override void NotifyBeginApplication()
    {
    }

    /// <inheritdoc/>
    public override void NotifyEndApplication()
    {
    }

    /// <inheritdoc/>
    public override void SetShouldExit(int exitCode)
    {
    }

    private sealed class Ui(string path, int seconds) : PSHostUserInterface
    {
        private readonly List<Process> _holders = [];

        public int Prompts { get; private set; }

        public IReadOnlyList<Process> Holders => _holders;

        public override PSHostRawUserInterface? RawUI => null;

        public override int PromptForChoice(string caption, string message, System.Collections.ObjectModel.Collection<ChoiceDescription> choices, int defaultChoice)
        {
            Prompts++;
            // bash opens the file and execs sleep with it as stdin: the holder is `sleep`, another process than this one.
            var holder = Process.Start("bash", ["-c", $"exec sleep {seconds.ToString(CultureInfo.InvariantCulture)} < '{path}'"]);
            _holders.Add(holder);
            var deadline = DateTime.UtcNow.AddSeconds(20);
            while (new FileInfo($"/proc/{holder.Id}/fd/0").LinkTarget != path)
            {
                if (holder.HasExited || DateTime.UtcNow > deadline)
                {
                    throw new InvalidOperationException($"sleep (pid {holder.Id}) did not come to hold {path}.");
                }

                Thread.Sleep(20);
            }

            return 0; // Yes
        }

        public override Dictionary<string, PSObject> Prompt(string caption, string message, System.Collections.ObjectModel.Collection<FieldDescription> descriptions) =>
            throw new NotSupportedException();

        public override PSCredential PromptForCredential(string caption, string message, string userName, string targetName) =>
            throw new NotSupportedException();

        public override PSCredential PromptForCredential(string caption, string message, string userName, string targetName,
            PSCredentialTypes allowedCredentialTypes, PSCredentialUIOptions options) => throw new NotSupportedException();

        public override string ReadLine() => throw new NotSupportedException();

        public override SecureString ReadLineAsSecureString() => throw new NotSupportedException();

        public override void Write(string value)
        {
        }

        public override void Write(ConsoleColor foregroundColor, ConsoleColor backgroundColor, string value)
        {
        }

        public override void WriteLine(string value)
        {
        }

        public override void WriteErrorLine(string value)
        {
        }

        public override void WriteDebugLine(string message)
        {
        }

        public override void WriteProgress(long sourceId, ProgressRecord record)
        {
        }

        public override void WriteVerboseLine(string message)
        {
        }

        public override void WriteWarningLine(string message)
        {
        }
    }
}
